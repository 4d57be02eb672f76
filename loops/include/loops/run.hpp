// run_until_complete and sleep: the two ways a program enters and waits in the loop.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

#include "loops/event_loop.hpp"
#include "loops/future.hpp"
#include "loops/registry.hpp"
#include "loops/task.hpp"

namespace loops {

namespace detail {
template <class A>
struct AwaitableTraits;
template <class T>
struct AwaitableTraits<Task<T>> {
  using value_type = T;
};
template <class T>
struct AwaitableTraits<Future<T>> {
  using value_type = T;
};

// A Task or Future as a Future of `loop`; an unscheduled coroutine becomes a
// task (asyncio's ensure_future, TASK-04). `created` tells whether it did.
template <class T>
Future<T> ensure_future(EventLoop& loop, const Task<T>& task, bool* created = nullptr) {
  if (created != nullptr) *created = !task.scheduled();
  if (!task.scheduled()) loop.create_task(task);
  return task.as_future();
}
template <class T>
Future<T> ensure_future(EventLoop&, const Future<T>& future, bool* created = nullptr) {
  if (created != nullptr) *created = false;
  return future;
}

// run_until_complete's done callback: stop the loop, unless the future failed
// with a fatal error, which has already left run_forever (bpo-22429).
inline void stop_when_done(ItemAction action, void* loop, void* future) {
  auto done = Ref<FutureBase>::adopt(static_cast<FutureBase*>(future));
  if (action != ItemAction::run) return;
  if (!done->cancelled() && done->has_exception()) {
    try {
      done->rethrow_if_not_success();
    } catch (const FatalError&) {
      return;
    } catch (...) {
    }
  }
  static_cast<EventLoop*>(loop)->stop();
}
}  // namespace detail

template <class Awaitable>
requires detail::Awaitable<std::remove_cvref_t<Awaitable>>
auto EventLoop::run_until_complete(Awaitable&& awaitable) {
  using T = typename detail::AwaitableTraits<std::remove_cvref_t<Awaitable>>::value_type;
  check_closed();
  if (is_running()) throw LoopRunningError("This event loop is already running");
  if (running_loop_or_null() != nullptr) {
    throw LoopRunningError("Cannot run the event loop while another loop is running");
  }
  if constexpr (std::is_same_v<std::remove_cvref_t<Awaitable>, Future<T>>) {
    if (awaitable.state()->loop() != this) {
      throw ValueError(
          "The future belongs to a different loop than the one specified as the loop argument");
    }
  } else if (awaitable.scheduled() && &awaitable.get_loop() != this) {
    throw ValueError(
        "The future belongs to a different loop than the one specified as the loop argument");
  }
  bool new_task = false;
  Future<T> future = detail::ensure_future(*this, awaitable, &new_task);
  detail::FutureBase* state = future.state();
  const auto key = reinterpret_cast<std::uintptr_t>(this);
  state->add_done_callback({&detail::stop_when_done, this, key});
  try {
    run_forever();
  } catch (...) {
    // The error escaping run_forever is the task's own: do not log it again.
    if (new_task && future.done() && !future.cancelled()) state->mark_retrieved();
    state->remove_done_callbacks(key);
    throw;
  }
  state->remove_done_callbacks(key);
  if (!future.done()) throw LoopStoppedError();
  if constexpr (std::is_void_v<T>) {
    future.result();
  } else {
    return T(future.result());
  }
}

// asyncio.run: runs `main` on a new loop of the named backend, then cancels
// and waits for the tasks it left behind, and closes the loop. Throws
// LoopRunningError when a loop is already running in this thread.
template <class T>
T run(Task<T> main, std::string_view backend) {
  if (running_loop_or_null() != nullptr) {
    throw LoopRunningError("run() cannot be called from a running event loop");
  }
  std::unique_ptr<EventLoop> loop = make_loop(backend);
  struct Finish {
    EventLoop& loop;
    ~Finish() {
      loop.cancel_pending_tasks();
      loop.close();
    }
  } finish{*loop};
  return loop->run_until_complete(std::move(main));
}

namespace detail {
// `co_await sleep(d)`: a timer that wakes the task. A delay <= 0 yields for
// exactly one iteration, like asyncio's sleep(0) (SLEEP-01, SLEEP-04). Small,
// since it lives in the frame of every sleeping task.
template <class T>
class SleepAwaiter {
  struct NoValue {};
  using Value = std::conditional_t<std::is_void_v<T>, NoValue, T>;

 public:
  SleepAwaiter(Nanos delay, Value value) : delay_(delay), value_(std::move(value)) {}
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    const Nanos delay = delay_;
    runner_ = &runner_of(h);
    if (delay <= 0) {
      runner_->yield(h);
    } else {
      runner_->sleep(delay, h);
    }
  }
  // Only the timer or a cancel, which cancels the timer, resumes the task:
  // no timer is left behind (SLEEP-05).
  T await_resume() {
    runner_->throw_if_cancel_requested();
    if constexpr (!std::is_void_v<T>) return std::move(value_);
  }

 private:
  // The delay is read only before the task suspends, the runner only after:
  // they share one slot.
  union {
    Nanos delay_;
    TaskRunner* runner_;
  };
  [[no_unique_address]] Value value_;
};
}  // namespace detail

// Suspends the current task for `delay` (never less; SLEEP-02). Throws
// ValueError for a NaN delay (SLEEP-06).
template <class Rep, class Period>
detail::SleepAwaiter<void> sleep(std::chrono::duration<Rep, Period> delay) {
  return detail::SleepAwaiter<void>(detail::to_nanos(delay), {});
}

// Like sleep(delay), then returns `value` (SLEEP-04).
template <class Rep, class Period, class T>
detail::SleepAwaiter<std::decay_t<T>> sleep(std::chrono::duration<Rep, Period> delay, T&& value) {
  return detail::SleepAwaiter<std::decay_t<T>>(detail::to_nanos(delay), std::forward<T>(value));
}

}  // namespace loops
