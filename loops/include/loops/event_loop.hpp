// EventLoop: asyncio's loop semantics, written once over any Backend.
//
// One iteration (run_once) follows asyncio's BaseEventLoop._run_once:
//   1. drop cancelled timers from the top of the heap;
//   2. poll the backend: without blocking when callbacks are ready or a stop
//      is pending, else until the earliest timer (or forever, when idle);
//   3. run the I/O handlers and completions for what the poll reported;
//   4. move call_soon_threadsafe arrivals and due timers (deadline <= now;
//      never early) to the ready queue;
//   5. run exactly the callbacks that were ready when step 5 began; those they
//      schedule wait for the next iteration.
// Step 3 runs the I/O handlers themselves, as uvloop does in libuv's poll
// phase, where asyncio queues them as ready callbacks: what they schedule (a
// task woken by received bytes) so runs in this iteration, ahead of due
// timers, one iteration and one poll sooner than under asyncio. Handlers and
// callbacks share one exception policy: an ordinary error goes to the
// exception handler ("Exception in callback"), a FatalError leaves the loop
// and what was not run yet stays queued for the next run.
// run_forever repeats iterations until stop() was requested, so stop finishes
// the current batch only, and a stop requested before run_forever makes it
// do exactly one non-blocking iteration (SEMANTICS LOOP-STOP-01/02).
//
// This header is the user API. The machinery (ready queue, timers, I/O
// registrations, live tasks) and the hooks that futures, tasks and streams
// use are in detail/loop_core.hpp; its code is in core/event_loop.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "loops/backend.hpp"
#include "loops/detail/loop_core.hpp"
#include "loops/detail/ref_counted.hpp"
#include "loops/errors.hpp"

namespace loops {

class EventLoop;
template <class T>
class Future;
template <class T>
class Task;

namespace detail {
// What run_until_complete, gather and wait accept: a Task<T> or a Future<T>.
template <class A>
concept Awaitable = requires {
  typename A::value_type;
}
&&(std::is_same_v<A, Task<typename A::value_type>> ||
   std::is_same_v<A, Future<typename A::value_type>>);

// Saturating conversion of any chrono duration to nanoseconds: huge or
// infinite delays become "never", never an overflow (SEMANTICS CB-TIME-09).
template <class Rep, class Period>
Nanos to_nanos(std::chrono::duration<Rep, Period> d) {
  using Limits = std::numeric_limits<Nanos>;
  if constexpr (std::is_floating_point_v<Rep>) {
    const double ns = std::chrono::duration<double, std::nano>(d).count();
    if (std::isnan(ns)) throw ValueError("delay is NaN");
    if (ns >= static_cast<double>(Limits::max())) return Limits::max();
    if (ns <= static_cast<double>(Limits::min())) return Limits::min();
    return static_cast<Nanos>(std::ceil(ns));
  } else {
    using Ratio = std::ratio_divide<Period, std::nano>;
    static_assert(Ratio::den == 1, "durations finer than a nanosecond are not supported");
    const auto count = static_cast<long double>(d.count()) * Ratio::num;
    if (count >= static_cast<long double>(Limits::max())) return Limits::max();
    if (count <= static_cast<long double>(Limits::min())) return Limits::min();
    return static_cast<Nanos>(d.count()) * static_cast<Nanos>(Ratio::num);
  }
}

// a + b, clamped to the Nanos range.
inline Nanos saturating_add(Nanos a, Nanos b) noexcept {
  Nanos sum = 0;
  if (__builtin_add_overflow(a, b, &sum))
    return b > 0 ? kNoDeadline : std::numeric_limits<Nanos>::min();
  return sum;
}
}  // namespace detail

// A callback scheduled with call_soon or call_soon_threadsafe.
class Handle {
 public:
  Handle() = default;
  // Prevents the call if it has not run yet; otherwise does nothing.
  void cancel();
  bool cancelled() const { return state_ && state_->cancelled.load(std::memory_order_relaxed); }

 protected:
  explicit Handle(detail::Ref<detail::HandleState> state) : state_(std::move(state)) {}
  detail::Ref<detail::HandleState> state_;
  friend class EventLoop;
};

// A callback scheduled with call_later or call_at.
class TimerHandle : public Handle {
 public:
  TimerHandle() = default;
  // The absolute deadline on the loop's clock (EventLoop::now()); still
  // valid after the timer fired or was cancelled (CB-TIME-05).
  Nanos when() const { return state_ ? state_->when : 0; }

 private:
  using Handle::Handle;
  friend class EventLoop;
};

// What the loop's exception handler receives.
struct ExceptionContext {
  std::string message;           // e.g. "Exception in callback"
  std::exception_ptr exception;  // May be null (e.g. "Task was destroyed but it is pending!").
};

using ExceptionHandler = std::function<void(EventLoop&, const ExceptionContext&)>;

// Describes an exception for logs and traces: its what() or its kind.
std::string describe_exception(const std::exception_ptr& error);

namespace detail {
// The core of `loop`, for the core's own types: futures, tasks, combinators
// and streams (see detail/loop_core.hpp). Not for users.
inline LoopCore& core_of(EventLoop& loop) noexcept;
}  // namespace detail

// asyncio's event loop over a Backend. The public members are the user API;
// what the core's own types need sits behind detail::core_of.
class EventLoop : private detail::LoopCore {
 public:
  explicit EventLoop(std::unique_ptr<Backend> backend);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // --- Running and stopping -------------------------------------------------

  // Runs until stop() is called. An idle loop blocks; it never returns for
  // lack of work (LOOP-RUN-01). Throws LoopClosedError / LoopRunningError.
  void run_forever();

  // Runs until `awaitable` (a Task<T>, scheduled or not, or a Future<T> of
  // this loop) is done; returns its result or rethrows its error. Throws
  // LoopStoppedError if the loop was stopped first, ValueError for a future
  // of another loop. Defined in loops/run.hpp.
  template <class Awaitable>
  requires detail::Awaitable<std::remove_cvref_t<Awaitable>>
  auto run_until_complete(Awaitable&& awaitable);

  // Asks the loop to stop after the current batch of callbacks. Loop thread
  // only; from another thread use call_soon_threadsafe([&] { loop.stop(); }).
  void stop() noexcept { stopping_ = true; }

  // Discards pending callbacks and timers; afterwards every scheduling or
  // running call throws LoopClosedError. Idempotent. Throws LoopRunningError
  // while running. Tasks that are still pending stay pending. Completions of
  // socket operations that closed streams cancelled are collected first, so
  // that their transports and sockets are freed.
  void close();

  bool is_running() const noexcept { return running_.load(std::memory_order_relaxed); }
  bool is_closed() const noexcept { return closed_.load(std::memory_order_relaxed); }

  // --- Time -------------------------------------------------------------------

  // The loop's clock in seconds, like asyncio's loop.time().
  double time() const noexcept { return static_cast<double>(backend_->now()) * 1e-9; }
  // The loop's clock in nanoseconds; call_at deadlines are on this scale.
  Nanos now() const noexcept { return backend_->now(); }

  // --- Scheduling -----------------------------------------------------------

  // Runs f() in a later iteration, FIFO with other ready callbacks. Loop
  // thread only (a foreign thread gets RuntimeError, CB-SOON-06).
  template <class F>
  Handle call_soon(F&& f);

  // Like call_soon, and safe from any thread; wakes a blocked loop.
  template <class F>
  Handle call_soon_threadsafe(F&& f);

  // Runs f() once, no earlier than `delay` from now. Zero and negative
  // delays mean "due now"; huge ones mean never.
  template <class Rep, class Period, class F>
  TimerHandle call_later(std::chrono::duration<Rep, Period> delay, F&& f);

  // Runs f() once, no earlier than `deadline` on the loop's clock (now()).
  template <class F>
  TimerHandle call_at(Nanos deadline, F&& f);

  // --- Futures and tasks --------------------------------------------------------

  // A pending future of this loop. Defined in loops/future.hpp, with Future.
  template <class T = void>
  Future<T> create_future();

  // Schedules the coroutine's first step with call_soon and returns the task
  // (the same object, now bound to this loop). Defined in loops/task.hpp,
  // with Task.
  template <class T>
  Task<T> create_task(Task<T> coroutine);

  // Tasks created on this loop that have not finished (asyncio's
  // len(all_tasks(loop))).
  std::size_t pending_task_count() const noexcept { return live_tasks_; }

  // Cancels every pending task and runs the loop until they have all
  // finished; errors other than cancellation go to the exception handler.
  // What asyncio.run does before closing its loop (LOOP-CLOSE-06).
  void cancel_pending_tasks();

  // --- Errors -----------------------------------------------------------------

  // Receives ordinary errors escaping callbacks, unretrieved future errors
  // and tasks destroyed while pending. Pass nullptr for the default handler,
  // which writes one line to stderr.
  void set_exception_handler(ExceptionHandler handler);
  void call_exception_handler(const ExceptionContext& context);

  // --- Introspection ------------------------------------------------------------

  // The engine this loop runs on: its name() and traits().
  Backend& backend() noexcept { return *backend_; }
  // Iterations run so far (a test's way to count "next iteration", as
  // libuv's uv_metrics_info counts loop_count).
  std::uint64_t iterations() const noexcept { return iterations_; }

 private:
  friend class detail::LoopCore;
  friend detail::LoopCore& detail::core_of(EventLoop& loop) noexcept;

  // Throws RuntimeError when called from a thread that is not running this
  // loop while it runs (asyncio's debug-mode _check_thread, always on here).
  void check_thread() const {
    if (detail::tls_running_loop != this && is_running()) throw_wrong_thread();
  }
  [[noreturn]] static void throw_wrong_thread();

  ExceptionHandler exception_handler_;
};

namespace detail {
inline LoopCore& core_of(EventLoop& loop) noexcept {
  return loop;
}
inline EventLoop& LoopCore::loop() noexcept {
  return static_cast<EventLoop&>(*this);
}
}  // namespace detail

// The loop running in this thread. Throws RuntimeError when there is none.
EventLoop& get_running_loop();
// The loop running in this thread, or nullptr.
EventLoop* running_loop_or_null() noexcept;

// --- Template definitions -------------------------------------------------------

template <class F>
Handle EventLoop::call_soon(F&& f) {
  check_closed();
  check_thread();
  using State = detail::CallbackHandleState<std::decay_t<F>>;
  auto* state = new State(std::forward<F>(f));
  state->loop = this;
  ready_.push_back({&State::run_item, state, nullptr});
  return Handle(detail::Ref<detail::HandleState>::adopt(state));
}

template <class F>
Handle EventLoop::call_soon_threadsafe(F&& f) {
  check_closed();
  using State = detail::CallbackHandleState<std::decay_t<F>>;
  auto* state = new State(std::forward<F>(f));
  state->loop = this;
  Handle handle(detail::Ref<detail::HandleState>::adopt(state));
  // May throw, having released the queue's reference.
  schedule_handle({&State::run_item, state, nullptr});
  return handle;
}

template <class Rep, class Period, class F>
TimerHandle EventLoop::call_later(std::chrono::duration<Rep, Period> delay, F&& f) {
  return call_at(detail::saturating_add(now(), detail::to_nanos(delay)), std::forward<F>(f));
}

template <class F>
TimerHandle EventLoop::call_at(Nanos deadline, F&& f) {
  check_closed();
  check_thread();
  auto* state = new detail::CallbackHandleState<std::decay_t<F>>(std::forward<F>(f));
  state->loop = this;
  state->when = deadline;
  push_timer(state);
  return TimerHandle(detail::Ref<detail::HandleState>::adopt(state));
}

}  // namespace loops
