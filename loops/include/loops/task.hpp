// Task<T>: a lazy C++20 coroutine that becomes asyncio.Task once scheduled.
//
// Calling a coroutine function runs nothing (TASK-01). Two ways to run it:
//  - loop.create_task(coro()) schedules its first step with call_soon and
//    returns the task, a Future-like handle that can be awaited, cancelled
//    and given done callbacks;
//  - `co_await coro()` inside another task runs it inline, as Python's
//    `await coro()` does: no new task, no extra loop iteration.
//
// A scheduled task is driven by its TaskRunner, asyncio's Task.__step: each
// step resumes the innermost suspended frame; every suspension is on a future
// (woken by a done callback, through the ready queue), a sleep's timer (woken
// the same way) or a bare yield (sleep(0)). cancel() cancels the awaited future, or, when there is
// none, makes the next resumption throw CancelledError at the await (TASK-06/08).
#pragma once

#include <coroutine>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "loops/event_loop.hpp"
#include "loops/future.hpp"

namespace loops {

template <class T = void>
class Task;

namespace detail {

class TaskRunner {
 public:
  // asyncio's Task.cancel(): false once done; otherwise counts the request,
  // cancels the awaited future or arranges CancelledError at the next resume.
  bool request_cancel(std::string message);
  int cancel_requests() const noexcept { return cancel_requests_; }

  // Called by awaiters when their task resumes: delivers a pending cancel.
  void throw_if_cancel_requested();
  // Suspends the frame `h` until `awaited` is done.
  void suspend_on(FutureBase& awaited, std::coroutine_handle<> h);
  // Suspends the frame `h` for exactly one loop iteration.
  void yield(std::coroutine_handle<> h);
  // Suspends the frame `h` for `delay` (> 0) on a timer of the loop's own,
  // which needs no handle or allocation. Cheaper than a future completed by a
  // timer, with the same iterations: the wake-up, like a done callback, goes
  // through the ready queue, and a cancel cancels the timer and wakes the task
  // in the next iteration.
  void sleep(Nanos delay, std::coroutine_handle<> h);
  // For the loop: whether `timer` is this task's current sleep timer, the
  // timer's leaving the heap (fired, or dropped by close), and the ready item
  // that its firing queues. Who owns the timer: LoopCore::add_sleep_timer.
  bool sleeps_on(std::uint64_t timer) const noexcept { return waiting_on_ == sleep_tag(timer); }
  void sleep_timer_left_heap() noexcept { sleep_timer_in_heap_ = false; }
  static void wake_from_sleep(ItemAction action, void* runner, void* timer);

  // Binds an unscheduled coroutine to `loop` and queues its first step.
  void schedule_on(EventLoop& loop);
  // Prepares an unscheduled coroutine to run inline under `parent`'s runner.
  void start_inline(TaskRunner& parent, std::coroutine_handle<> parent_frame);
  bool bound() const noexcept { return bound_; }
  bool ended_by_cancellation() const noexcept { return ended_by_cancellation_; }
  const std::string& cancellation_message() const noexcept { return future().cancel_message(); }
  TaskRunner* runner() const noexcept { return runner_; }
  // At the coroutine's final suspension: marks its body ended and returns the
  // frame to continue, the awaiting one for an inline child.
  std::coroutine_handle<> end_body() noexcept {
    body_ended_ = true;
    if (runner_ == this) return std::noop_coroutine();
    return resume_at_;
  }

  // The loop's list of live tasks.
  TaskRunner* prev_live = nullptr;
  TaskRunner* next_live = nullptr;
  // Unhooks a task that its loop is destroying while it is still pending.
  void abandon() noexcept;
  // The future that this runner's promise also is.
  FutureBase& future() const noexcept {
    return *reinterpret_cast<FutureBase*>(reinterpret_cast<std::intptr_t>(this) + future_offset_);
  }

 protected:
  TaskRunner(FutureBase& future, std::coroutine_handle<> frame) noexcept
      : resume_at_(frame),
        future_offset_(static_cast<std::int32_t>(reinterpret_cast<std::intptr_t>(&future) -
                                                 reinterpret_cast<std::intptr_t>(this))) {}
  ~TaskRunner() = default;
  // Called from unhandled_exception(): CancelledError ends the task cancelled,
  // FatalError is stored and rethrown out of the loop, anything else is stored.
  void capture_exception(std::exception_ptr& slot);

 private:
  static void step_item(ItemAction action, void* runner, void*);
  static void wakeup_item(ItemAction action, void* runner, void* future);
  void step();
  void complete();
  LoopCore& loop_core() const noexcept { return core_of(*future().loop()); }

  // What the suspended task waits for: a future (its address), its current
  // sleep's timer (the sequence number, tagged by the low bit) or nothing (0).
  static std::uintptr_t sleep_tag(std::uint64_t timer) noexcept { return (timer << 1) | 1U; }
  bool sleeping() const noexcept { return (waiting_on_ & 1U) != 0; }
  FutureBase* awaited_future() const noexcept {
    return sleeping() ? nullptr : reinterpret_cast<FutureBase*>(waiting_on_);
  }

  // Every task frame holds one runner, so its fields are few: a million
  // sleeping tasks cost a million of them. The future is found by its offset,
  // and the cancel message of a request waits in the future's own field,
  // which is unused until the task ends.
  // The innermost suspended frame, at first the coroutine's own. An inline
  // child, which its parent's runner drives, keeps the awaiting frame here.
  std::coroutine_handle<> resume_at_;
  TaskRunner* runner_ = this;  // The scheduled task driving this frame.
  // See awaited_future(). The awaiter in the frame holds an awaited future.
  std::uintptr_t waiting_on_ = 0;
  // From this runner to the future: both are bases of one promise, so the
  // distance is small and fixed, whichever base comes first.
  std::int32_t future_offset_;
  int cancel_requests_ = 0;
  bool must_cancel_ = false;
  bool started_ = false;
  bool body_ended_ = false;  // The coroutine reached its final suspension.
  bool bound_ = false;
  bool ended_by_cancellation_ = false;
  bool fatal_ = false;
  bool sleep_timer_in_heap_ = false;
};

template <class T>
class TaskPromise;

// Continues an inline parent when a child finishes; otherwise stays suspended
// so that the runner sees the body ended and completes the task.
struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
    return h.promise().end_body();
  }
  void await_resume() const noexcept {}
};

template <class T>
class TaskPromiseBase : public FutureState<T>, public TaskRunner {
 public:
  using Handle = std::coroutine_handle<TaskPromise<T>>;
  TaskPromiseBase()
      : FutureState<T>(nullptr),
        TaskRunner(*this, Handle::from_promise(static_cast<TaskPromise<T>&>(*this))) {
    this->is_task_ = true;
  }
  ~TaskPromiseBase() override = default;

  Task<T> get_return_object() noexcept;
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() { capture_exception(this->exception_); }
  bool cancel(std::string message) override { return request_cancel(std::move(message)); }

  // For an inline child: hand the outcome to the awaiting frame.
  T take_inline_result() {
    if (ended_by_cancellation()) throw CancelledError(cancellation_message());
    if (this->exception_) std::rethrow_exception(this->exception_);
    if constexpr (!std::is_void_v<T>) return std::move(*this->value_);
  }

 protected:
  void destroy() noexcept override {
    Handle::from_promise(static_cast<TaskPromise<T>&>(*this)).destroy();
  }
};

template <class T>
class TaskPromise final : public TaskPromiseBase<T> {
 public:
  template <class U>
  void return_value(U&& value) {
    this->store_value(std::forward<U>(value));
  }
};

template <>
class TaskPromise<void> final : public TaskPromiseBase<void> {
 public:
  void return_void() const noexcept {}
};

// The runner of the coroutine that is awaiting, for any of our promise types.
template <class P>
TaskRunner& runner_of(std::coroutine_handle<P> h) {
  static_assert(std::is_base_of_v<TaskRunner, P>,
                "loops awaitables can only be awaited inside a loops::Task coroutine");
  return *h.promise().runner();
}

template <class T>
class FutureAwaiter {
 public:
  explicit FutureAwaiter(FutureState<T>* state) : state_(state) {}
  bool await_ready() const noexcept { return state_->done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    runner_ = &runner_of(h);
    runner_->suspend_on(*state_, h);
  }
  decltype(auto) await_resume() {
    if (runner_ != nullptr) runner_->throw_if_cancel_requested();
    return state_->result();
  }

 private:
  FutureState<T>* state_;  // The awaited Future (a temporary or an lvalue) owns it.
  TaskRunner* runner_ = nullptr;
};

// Suspends for exactly one iteration: asyncio's bare `yield` in sleep(0).
struct YieldAwaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    runner_ = &runner_of(h);
    runner_->yield(h);
  }
  void await_resume() { runner_->throw_if_cancel_requested(); }
  TaskRunner* runner_ = nullptr;
};

// `co_await task`: inline for an unscheduled coroutine, else a future await.
template <class T>
class TaskAwaiter {
 public:
  explicit TaskAwaiter(TaskPromise<T>* promise) : promise_(promise), future_(promise) {
    inline_ = !promise->bound();
  }
  bool await_ready() const noexcept { return !inline_ && future_.await_ready(); }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
    if (!inline_) {
      future_.await_suspend(h);
      return std::noop_coroutine();
    }
    promise_->start_inline(runner_of(h), h);
    return std::coroutine_handle<TaskPromise<T>>::from_promise(*promise_);
  }
  T await_resume() {
    if (inline_) return promise_->take_inline_result();
    if constexpr (std::is_void_v<T>) {
      future_.await_resume();
    } else {
      return T(future_.await_resume());  // A copy: other awaiters may read it too.
    }
  }

 private:
  TaskPromise<T>* promise_;
  FutureAwaiter<T> future_;
  bool inline_;
};

}  // namespace detail

template <class T>
class Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using value_type = T;

  Task() = default;
  explicit Task(detail::Ref<promise_type> promise) : promise_(std::move(promise)) {}

  bool valid() const noexcept { return static_cast<bool>(promise_); }
  // True once create_task or an inline await took this coroutine.
  bool scheduled() const noexcept { return promise_->bound(); }
  bool done() const noexcept { return promise_->done(); }
  bool cancelled() const noexcept { return promise_->cancelled(); }
  decltype(auto) result() const { return promise_->result(); }
  std::exception_ptr exception() const { return promise_->exception(); }

  // asyncio's Task.cancel(msg). Throws RuntimeError on a coroutine that was
  // never scheduled (a Python coroutine object has no cancel either).
  bool cancel(std::string message = {}) const {
    if (!scheduled()) throw RuntimeError("cannot cancel a coroutine that is not scheduled");
    return promise_->request_cancel(std::move(message));
  }
  // How many cancel() requests are pending (asyncio's Task.cancelling()).
  int cancelling() const noexcept { return promise_->cancel_requests(); }

  template <class F>
  CallbackKey add_done_callback(F&& f) const {
    return as_future().add_done_callback(std::forward<F>(f));
  }
  std::size_t remove_done_callback(CallbackKey key) const {
    return promise_->remove_done_callbacks(key.value);
  }

  // The same object seen as a Future<T> (for gather, wait, callbacks).
  Future<T> as_future() const {
    return Future<T>(detail::Ref<detail::FutureState<T>>::share(promise_.get()));
  }
  operator Future<T>() const { return as_future(); }  // NOLINT(google-explicit-constructor)

  EventLoop& get_loop() const { return *promise_->loop(); }
  promise_type* promise() const noexcept { return promise_.get(); }

  detail::TaskAwaiter<T> operator co_await() const {
    return detail::TaskAwaiter<T>(promise_.get());
  }

  friend bool operator==(const Task& a, const Task& b) noexcept {
    return a.promise_.get() == b.promise_.get();
  }

 private:
  detail::Ref<promise_type> promise_;
};

namespace detail {
template <class T>
Task<T> TaskPromiseBase<T>::get_return_object() noexcept {
  // The frame starts with one reference: the Task object returned here.
  return Task<T>(Ref<TaskPromise<T>>::adopt(static_cast<TaskPromise<T>*>(this)));
}
}  // namespace detail

template <class T>
detail::FutureAwaiter<T> Future<T>::operator co_await() const noexcept {
  return detail::FutureAwaiter<T>(state_.get());
}

template <class T>
Task<T> EventLoop::create_task(Task<T> coroutine) {
  check_closed();
  check_thread();
  if (coroutine.scheduled()) throw RuntimeError("coroutine was already scheduled or awaited");
  coroutine.promise()->schedule_on(*this);
  return coroutine;
}

}  // namespace loops
