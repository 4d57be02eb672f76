// Futures and the task runner: asyncio's futures.py and tasks.py (Task.__step,
// Task.__wakeup, Task.cancel), once for every backend.
#include "loops/future.hpp"

#include <utility>
#include <vector>

#include "loops/event_loop.hpp"
#include "loops/task.hpp"

namespace loops::detail {

// --- FutureBase -------------------------------------------------------------------

FutureBase::~FutureBase() {
  for_each_callback([](const DoneCallback& callback) {
    callback.fn(ItemAction::discard, callback.ctx, nullptr);
  });
  if (status_ == FutureStatus::finished && exception_ && !exception_retrieved_ &&
      loop_ != nullptr) {
    loop_->call_exception_handler(
        {is_task_ ? "Task exception was never retrieved" : "Future exception was never retrieved",
         exception_});
  }
}

FutureBase::Rare& FutureBase::rare() {
  if (!rare_) rare_ = std::make_unique<Rare>();
  return *rare_;
}

const std::string& FutureBase::cancel_message() const noexcept {
  static const std::string kNone;
  return rare_ ? rare_->cancel_message : kNone;
}

void FutureBase::set_cancel_message(std::string message) {
  if (!message.empty() || rare_) rare().cancel_message = std::move(message);
}

void FutureBase::clear_callbacks() noexcept {
  first_callback_ = {};
  if (rare_) rare_->more_callbacks.clear();
}

std::uintptr_t FutureBase::unique_key() noexcept {
  // Keys only need to be unique among one future's callbacks, which are all
  // registered on its loop's thread: a per-thread counter is enough.
  thread_local std::uintptr_t next = 1;
  return (next++ << 1) | 1U;
}

std::exception_ptr FutureBase::exception() {
  if (status_ == FutureStatus::pending) throw InvalidStateError("Exception is not set.");
  if (status_ == FutureStatus::cancelled) throw make_cancelled_error();
  exception_retrieved_ = true;
  return exception_;
}

void FutureBase::throw_failure() {
  if (status_ == FutureStatus::pending) throw InvalidStateError("Result is not set.");
  if (status_ == FutureStatus::cancelled) throw make_cancelled_error();
  exception_retrieved_ = true;
  std::rethrow_exception(exception_);
}

void FutureBase::check_settable() const {
  if (is_task_) throw RuntimeError("Task does not support set_result or set_exception");
  if (status_ != FutureStatus::pending)
    throw InvalidStateError("invalid state: future is already done");
}

bool FutureBase::cancel(std::string message) {
  if (status_ != FutureStatus::pending) {
    // Cancelling a failed future counts as looking at its error (FUT-12).
    exception_retrieved_ = true;
    return false;
  }
  set_cancelled_state(std::move(message));
  return true;
}

void FutureBase::set_exception(std::exception_ptr error) {
  check_settable();
  if (!error) throw TypeError("set_exception needs an exception");
  exception_ = std::move(error);
  finish(FutureStatus::finished);
}

void FutureBase::finish(FutureStatus status) {
  status_ = status;
  schedule_callbacks();
}

void FutureBase::schedule_callbacks() {
  if (!has_callbacks()) return;
  // The callbacks run later, through the ready queue, in registration order:
  // never inline (FUT-06). Each gets a reference to this future, unless it borrows one.
  for_each_callback([this](const DoneCallback& callback) {
    if (!callback.borrows_future) add_ref();
    core_of(*loop_).push_ready({callback.fn, callback.ctx, this});
  });
  clear_callbacks();
}

void FutureBase::add_done_callback_slow(const DoneCallback& callback) {
  if (status_ != FutureStatus::pending) {
    // Already done: still through call_soon, never inline (FUT-07).
    core_of(*loop_).check_closed();
    if (!callback.borrows_future) add_ref();
    core_of(*loop_).push_ready({callback.fn, callback.ctx, this});
    return;
  }
  if (!has_callbacks()) {
    set_first_callback(callback);
  } else {
    rare().more_callbacks.push_back(callback);
  }
}

std::size_t FutureBase::remove_done_callbacks(std::uintptr_t key) {
  std::vector<DoneCallback> kept;
  std::vector<DoneCallback> removed;
  for_each_callback([&](const DoneCallback& callback) {
    (callback.key == key ? removed : kept).push_back(callback);
  });
  if (removed.empty()) return 0;
  clear_callbacks();
  for (const auto& callback : kept) add_done_callback_slow(callback);
  // Freed only once the list is whole again: a callable's destructor is user
  // code, which may add or remove callbacks of this future (CPython's
  // test_remove_done_callbacks_list_mutation; core-catalogue FUT-REMOVE-01).
  for (const auto& callback : removed) callback.fn(ItemAction::discard, callback.ctx, nullptr);
  return removed.size();
}

// --- TaskRunner ---------------------------------------------------------------------

void TaskRunner::schedule_on(EventLoop& loop) {
  bound_ = true;
  future().bind_loop(&loop);
  core_of(loop).adopt_task(this);
  core_of(loop).push_ready({&step_item, this, nullptr});
}

void TaskRunner::start_inline(TaskRunner& parent, std::coroutine_handle<> parent_frame) {
  if (bound_) throw RuntimeError("coroutine was already scheduled or awaited");
  bound_ = true;
  started_ = true;
  runner_ = parent.runner_;
  resume_at_ = parent_frame;
  future().bind_loop(parent.future().loop());
}

bool TaskRunner::request_cancel(std::string message) {
  if (future().done()) {
    future().mark_retrieved();  // As for futures: no "never retrieved" report (FUT-12).
    return false;
  }
  ++cancel_requests_;
  if (FutureBase* awaited = awaited_future(); awaited != nullptr && awaited->cancel(message)) {
    return true;
  }
  must_cancel_ = true;
  future().set_cancel_message(std::move(message));
  if (sleeping()) {
    waiting_on_ = 0;
    if (std::exchange(sleep_timer_in_heap_, false)) loop_core().on_sleep_timer_cancelled(this);
    loop_core().push_ready({&step_item, this, nullptr});
  }
  return true;
}

void TaskRunner::throw_if_cancel_requested() {
  if (!must_cancel_) return;
  must_cancel_ = false;
  throw CancelledError(future().cancel_message());
}

void TaskRunner::suspend_on(FutureBase& awaited, std::coroutine_handle<> h) {
  if (awaited.loop() != future().loop()) {
    throw RuntimeError("Task got Future attached to a different loop");
  }
  resume_at_ = h;
  waiting_on_ = reinterpret_cast<std::uintptr_t>(&awaited);
  // The awaiter in the suspended frame holds the future until the task resumes.
  awaited.add_done_callback(
      {&wakeup_item, this, reinterpret_cast<std::uintptr_t>(this), /*borrows_future=*/true});
  // A cancel that arrived while the task was running reaches the future now.
  if (must_cancel_ && awaited.cancel(future().cancel_message())) must_cancel_ = false;
}

void TaskRunner::yield(std::coroutine_handle<> h) {
  resume_at_ = h;
  loop_core().push_ready({&step_item, this, nullptr});
}

void TaskRunner::sleep(Nanos delay, std::coroutine_handle<> h) {
  LoopCore& loop = loop_core();
  const Nanos deadline = saturating_add(future().loop()->now(), delay);
  resume_at_ = h;
  // A cancel that arrived while the task was running ends the sleep now.
  if (must_cancel_) {
    loop.push_ready({&step_item, this, nullptr});
    return;
  }
  // Who owns the timer, and until when: see LoopCore::add_sleep_timer.
  waiting_on_ = sleep_tag(loop.add_sleep_timer(deadline, this));
  sleep_timer_in_heap_ = true;
}

void TaskRunner::wake_from_sleep(ItemAction action, void* runner, void* timer) {
  // Queued when the timer fired, ahead of any step a later cancel queues, so
  // the task is still alive; a cancel in between has already woken it.
  auto* self = static_cast<TaskRunner*>(runner);
  if (action != ItemAction::run || !self->sleeps_on(reinterpret_cast<std::uintptr_t>(timer))) {
    return;
  }
  self->waiting_on_ = 0;
  self->loop_core().push_ready({&step_item, self, nullptr});
}

void TaskRunner::step_item(ItemAction action, void* runner, void*) {
  if (action == ItemAction::run) static_cast<TaskRunner*>(runner)->step();
}

void TaskRunner::wakeup_item(ItemAction action, void* runner, void* future) {
  if (action != ItemAction::run || future == nullptr) return;
  auto* self = static_cast<TaskRunner*>(runner);
  self->waiting_on_ = 0;
  self->step();
}

void TaskRunner::step() {
  if (future().done()) return;
  // complete() hands back the loop's reference and may free this task: it is
  // the last thing step() does.
  if (!started_) {
    started_ = true;
    if (must_cancel_) {  // Cancelled before its first step: the body never runs (TASK-10).
      ended_by_cancellation_ = true;
      complete();
      return;
    }
  }
  resume_at_.resume();
  if (body_ended_) complete();
}

void TaskRunner::capture_exception(std::exception_ptr& slot) {
  try {
    throw;
  } catch (const CancelledError& cancelled) {
    ended_by_cancellation_ = true;
    future().set_cancel_message(cancelled.message());
  } catch (const FatalError&) {
    fatal_ = true;
    slot = std::current_exception();
  } catch (...) {
    slot = std::current_exception();
  }
}

void TaskRunner::complete() {
  LoopCore& loop = loop_core();
  // A cancel requested after the last await still wins over a returned
  // value, but not over an error the body raised: asyncio's __step consults
  // _must_cancel only when the coroutine returns (core-catalogue TASK-SELF-CANCEL-01).
  if (ended_by_cancellation_ || (must_cancel_ && !future().exception_)) {
    must_cancel_ = false;
    future().exception_ = nullptr;
    future().finish(FutureStatus::cancelled);  // With the message kept by the request or error.
  } else {
    future().finish(FutureStatus::finished);
  }
  const bool fatal = fatal_;
  std::exception_ptr error = fatal ? future().exception_ : nullptr;
  if (fatal) future().exception_retrieved_ = true;
  loop.release_task(this);
  if (fatal) std::rethrow_exception(error);
}

void TaskRunner::abandon() noexcept {
  // The closed loop has dropped a sleep's timer.
  if (FutureBase* awaited = awaited_future()) {
    awaited->remove_done_callbacks(reinterpret_cast<std::uintptr_t>(this));
  }
  waiting_on_ = 0;
}

}  // namespace loops::detail
