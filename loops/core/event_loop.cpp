// The loop proper: asyncio's base_events.py (run_forever, _run_once, stop,
// close, call_soon, call_at), over the Backend seam. See event_loop.hpp for
// the shape of one iteration. EventLoop's members are the user API;
// LoopCore's (detail/loop_core.hpp) the machinery and the core's hooks.
#include "loops/event_loop.hpp"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>

#include "loops/detail/posix.hpp"
#include "loops/run.hpp"
#include "loops/task.hpp"

namespace loops {

constinit thread_local EventLoop* detail::tls_running_loop = nullptr;

using detail::LoopCore;

namespace {
using detail::read_clock;
using detail::tls_running_loop;

// Clean the heap when cancelled timers are this many and more than half of it,
// as asyncio does (_MIN_SCHEDULED_TIMER_HANDLES, _MIN_CANCELLED_TIMER_HANDLES_FRACTION).
constexpr std::size_t kMinTimersBeforeCleanup = 100;

// See timer_may_be_due. A coarse clock ticking more slowly than this is no use.
constexpr Nanos kCoarsestUsefulTick = 10'000'000;
// Busy iterations may skip reading now() at most this many times in a row.
constexpr std::uint32_t kMaxIterationsWithoutClock = 64;
// How long a busy iteration is assumed to take at most, when deciding how
// many of them may skip even the coarse clock.
constexpr Nanos kBusyIterationAllowance = 1'000'000;

// Twice the coarse clock's tick, or 0 when there is no usable coarse clock.
Nanos coarse_clock_guard() noexcept {
  timespec res{};
  if (::clock_getres(CLOCK_MONOTONIC_COARSE, &res) != 0 || res.tv_sec != 0 ||
      res.tv_nsec > kCoarsestUsefulTick) {
    return 0;
  }
  return 2 * static_cast<Nanos>(res.tv_nsec);
}

// Hands each record to `deliver_one`, then empties `records`. Nothing
// appends to them meanwhile (only a poll does). When a FatalError leaves the
// loop, the records not delivered yet stay for the next run, as the rest of a
// ready batch does: a completion must never be lost.
template <class Record, class Deliver>
void deliver_all(std::vector<Record>& records, Deliver deliver_one) {
  std::size_t delivered = 0;
  try {
    for (const Record& record : records) {
      ++delivered;
      deliver_one(record);
    }
  } catch (...) {
    records.erase(records.begin(), records.begin() + static_cast<std::ptrdiff_t>(delivered));
    throw;
  }
  records.clear();
}

// The one exception policy for everything the loop runs, callbacks and I/O
// handlers alike, as asyncio's Handle._run has it: an ordinary error goes to
// the exception handler and the loop carries on; KeyboardInterrupt and
// SystemExit (FatalError) leave the loop (LOOP-RUN-07).
template <class F>
void run_guarded(EventLoop& loop, F&& callback) {
  try {
    callback();
  } catch (const FatalError&) {
    throw;
  } catch (...) {
    loop.call_exception_handler({"Exception in callback", std::current_exception()});
  }
}
}  // namespace

EventLoop* running_loop_or_null() noexcept {
  return tls_running_loop;
}

EventLoop& get_running_loop() {
  if (tls_running_loop == nullptr) throw RuntimeError("no running event loop");
  return *tls_running_loop;
}

std::string describe_exception(const std::exception_ptr& error) {
  if (!error) return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (const CancelledError& e) {
    return e.message().empty() ? "CancelledError" : "CancelledError: " + e.message();
  } catch (const FatalError& e) {
    return "FatalError: " + e.what();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

void Handle::cancel() {
  if (!state_ || state_->cancelled.exchange(true, std::memory_order_relaxed)) return;
  if (state_->in_heap) state_->loop->on_timer_cancelled();
}

LoopCore::LoopCore(std::unique_ptr<Backend> backend)
    : backend_(std::move(backend)),
      coarse_clock_guard_(backend_->traits().real_time ? coarse_clock_guard() : 0),
      owner_thread_(std::this_thread::get_id()) {}

EventLoop::EventLoop(std::unique_ptr<Backend> backend) : LoopCore(std::move(backend)) {}

EventLoop::~EventLoop() {
  if (!is_closed()) close();
  // Tasks still pending die with their loop, as asyncio's do when collected
  // (LOOP-CLOSE-05). Report each, then drop the loop's reference.
  while (first_task_ != nullptr) {
    detail::TaskRunner* task = first_task_;
    call_exception_handler({"Task was destroyed but it is pending!", nullptr});
    task->abandon();
    release_task(task);
  }
}

// --- Running ----------------------------------------------------------------------------

void LoopCore::enter_run() {
  check_closed();
  if (running_.load(std::memory_order_relaxed)) {
    throw LoopRunningError("This event loop is already running");
  }
  if (tls_running_loop != nullptr) {
    throw LoopRunningError("Cannot run the event loop while another loop is running");
  }
  owner_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  clock_checks_to_skip_ = 0;  // Time may have passed since the last run.
  tls_running_loop = &loop();
  running_.store(true, std::memory_order_relaxed);
}

void LoopCore::leave_run() noexcept {
  stopping_ = false;
  running_.store(false, std::memory_order_relaxed);
  tls_running_loop = nullptr;
}

void EventLoop::run_forever() {
  enter_run();
  try {
    for (;;) {
      run_once();
      if (stopping_) break;
    }
  } catch (...) {
    leave_run();
    throw;
  }
  leave_run();
}

void LoopCore::drop_cancelled_timers() {
  if (cancelled_timers_ > kMinTimersBeforeCleanup &&
      cancelled_timers_ * 2 > timers_.size() + ordered_timers_.size()) {
    const auto drop_if_cancelled = [](const TimerEntry& entry) {
      if (!is_cancelled(entry)) return false;
      drop(entry);
      return true;
    };
    std::erase_if(timers_, drop_if_cancelled);
    std::make_heap(timers_.begin(), timers_.end(), Later{});
    ordered_timers_.erase_if(drop_if_cancelled);
    cancelled_timers_ = 0;
    return;
  }
  while (has_timers() && is_cancelled(earliest_timer())) {
    drop(pop_earliest_timer());
    --cancelled_timers_;
  }
}

void LoopCore::add_timer_out_of_order(const TimerEntry& entry) {
  if (ordered_timers_.size() == 1) {
    // A lone later timer (a watchdog's, say) must not keep a run of shorter
    // ones out of the list: it moves to the heap instead.
    timers_.push_back(ordered_timers_.back());
    ordered_timers_.back() = entry;
  } else {
    timers_.push_back(entry);
  }
  std::push_heap(timers_.begin(), timers_.end(), Later{});
}

const LoopCore::TimerEntry& LoopCore::earliest_timer() const noexcept {
  if (timers_.empty()) return ordered_timers_.front();
  if (ordered_timers_.empty() || Later{}(ordered_timers_.front(), timers_.front())) {
    return timers_.front();
  }
  return ordered_timers_.front();
}

LoopCore::TimerEntry LoopCore::pop_earliest_timer() noexcept {
  if (!timers_.empty() &&
      (ordered_timers_.empty() || Later{}(ordered_timers_.front(), timers_.front()))) {
    std::pop_heap(timers_.begin(), timers_.end(), Later{});
    const TimerEntry entry = timers_.back();
    timers_.pop_back();
    return entry;
  }
  return ordered_timers_.pop_front();
}

bool LoopCore::is_cancelled(const TimerEntry& entry) noexcept {
  if ((entry.target & kSleepTag) != 0) {
    return !reinterpret_cast<detail::TaskRunner*>(entry.target - kSleepTag)
                ->sleeps_on(entry.sequence);
  }
  return reinterpret_cast<detail::HandleState*>(entry.target)
      ->cancelled.load(std::memory_order_relaxed);
}

void LoopCore::fire(const TimerEntry& entry) {
  if ((entry.target & kSleepTag) != 0) {
    auto* task = reinterpret_cast<detail::TaskRunner*>(entry.target - kSleepTag);
    task->sleep_timer_left_heap();
    // Wakes the task through the ready queue, in the next iteration, as a
    // future completed by the timer would (SLEEP-01's iterations).
    ready_.push_back({&detail::TaskRunner::wake_from_sleep, task,
                      reinterpret_cast<void*>(static_cast<std::uintptr_t>(entry.sequence))});
    return;
  }
  auto* state = reinterpret_cast<detail::HandleState*>(entry.target);
  state->in_heap = false;
  ready_.push_back({&run_handle_item, state, nullptr});
}

void LoopCore::drop(const TimerEntry& entry) noexcept {
  if ((entry.target & kSleepTag) != 0) {
    auto* task = reinterpret_cast<detail::TaskRunner*>(entry.target - kSleepTag);
    if (task->sleeps_on(entry.sequence)) {
      task->sleep_timer_left_heap();  // Only close() drops a task's current timer.
    } else {
      task->future().release();  // Taken by on_sleep_timer_cancelled.
    }
    return;
  }
  auto* state = reinterpret_cast<detail::HandleState*>(entry.target);
  state->in_heap = false;
  state->release();
}

void LoopCore::run_once() {
  // Each step of an iteration that usually has nothing to do is guarded here,
  // not in the function it calls: a callback chain pays for every call.
  if (cancelled_timers_ != 0) drop_cancelled_timers();

  const bool busy = !ready_.empty() || stopping_ ||
                    inbox_nonempty_.load(std::memory_order_acquire) || io_undelivered();
  if (!busy) {
    backend_->poll(has_timers() ? std::max(earliest_timer().when, kNoWait) : kNoDeadline, io_);
  } else if (watched_count_ != 0 || pending_io_ != 0) {
    backend_->poll(kNoWait, io_);
  }
  // Else nothing can be ready on the backend's side but a wake-up, and the
  // inbox flag already tells the core about those; a stale wake-up only makes
  // a later blocking poll return early, which the seam allows.
  ++iterations_;

  if (io_undelivered()) dispatch_io();

  if (inbox_nonempty_.load(std::memory_order_acquire)) move_inbox_to_ready();

  // Due timers join the ready queue behind what is already there (CB-TIME-11).
  // Strictly "deadline <= now": a timer never fires early.
  if (has_timers() && timer_may_be_due(!busy)) {
    const Nanos now = backend_->now();
    while (has_timers() && earliest_timer().when <= now) {
      const TimerEntry entry = pop_earliest_timer();
      if (is_cancelled(entry)) {
        --cancelled_timers_;
        drop(entry);
        continue;
      }
      fire(entry);
    }
  }

  // Run only this batch; callbacks scheduled by it wait for the next
  // iteration (CB-SOON-03, LOOP-STOP-01).
  for (std::size_t todo = ready_.size(); todo > 0; --todo) run_ready_item(ready_.pop_front());
}

// Whether run_once must read now() to look for due timers. A busy loop (a
// callback chain, say) iterates far more often than its timers fall due, and
// on a VM now() costs more than the rest of an iteration (27 ns with
// kvm-clock, where CLOCK_MONOTONIC_COARSE costs 4 ns). The coarse clock lags
// the precise one by at most about one tick while this thread runs, so when
// coarse + two ticks is still before the earliest deadline no timer can be
// due. When that deadline is further away than kBusyIterationAllowance per
// iteration, the next few busy iterations do not even read the coarse clock
// (tokio's scheduler likewise looks at its timers only every 61 tasks). A
// new timer, or a new run, ends the skipping. After a wait, and every
// kMaxIterationsWithoutClock busy iterations (in case the tick stops, as
// under nohz_full), now() is read regardless: a timer is never early, and it
// is late by more than one iteration only when busy iterations take longer
// than kBusyIterationAllowance each, and then by at most
// kMaxIterationsWithoutClock iterations.
bool LoopCore::timer_may_be_due(bool after_wait) noexcept {
  if (!after_wait && clock_checks_to_skip_ > 0) {
    --clock_checks_to_skip_;
    return false;
  }
  return read_clock_for_timers(after_wait);
}

bool LoopCore::read_clock_for_timers(bool after_wait) noexcept {
  if (after_wait || coarse_clock_guard_ == 0 ||
      ++iterations_without_clock_ >= kMaxIterationsWithoutClock) {
    iterations_without_clock_ = 0;
    clock_checks_to_skip_ = 0;
    return true;
  }
  const Nanos slack =
      earliest_timer().when - (read_clock(CLOCK_MONOTONIC_COARSE) + coarse_clock_guard_);
  if (slack <= 0) {
    iterations_without_clock_ = 0;
    return true;
  }
  // The iterations skipped count towards the next read of now().
  clock_checks_to_skip_ = static_cast<std::uint32_t>(std::min<Nanos>(
      slack / kBusyIterationAllowance, kMaxIterationsWithoutClock - 1 - iterations_without_clock_));
  iterations_without_clock_ += clock_checks_to_skip_;
  return false;
}

void LoopCore::run_ready_item(const detail::ReadyItem& item) {
  run_guarded(loop(), [&] { item.fn(detail::ItemAction::run, item.a, item.b); });
}

// Delivers what the backend reported, completions first, each under the
// callbacks' exception policy.
void LoopCore::dispatch_io() {
  deliver_all(io_.completed, [this](const IoResult& record) {
    --pending_io_;
    run_guarded(loop(), [&] { record.completion->on_io_complete(record.result); });
  });
  deliver_all(io_.ready, [this](const IoReadiness& record) { deliver(record); });
}

void LoopCore::deliver(const IoReadiness& record) {
  const auto fd = static_cast<std::size_t>(record.fd);
  if (fd >= registrations_.size()) return;
  const IoRegistration& registration = registrations_[fd];
  // Stale: an earlier handler of this batch unwatched fd, or watched a new
  // descriptor under its number.
  if (registration.generation != record.generation || registration.handler == nullptr) return;
  // A direction an earlier handler stopped watching is no longer wanted.
  const unsigned events = record.events & registration.events;
  if (events == kIoNone) return;
  IoHandler* handler = registration.handler;
  run_guarded(loop(), [&] { handler->on_io_ready(events); });
}

void LoopCore::run_handle_item(detail::ItemAction action, void* state, void*) {
  static_cast<detail::HandleState*>(state)->run_and_release(action == detail::ItemAction::run);
}

// --- Stopping and closing -----------------------------------------------------------

void EventLoop::close() {
  if (is_running()) throw LoopRunningError("Cannot close a running event loop");
  if (is_closed()) return;
  settle_pending_io();
  if (closed_.exchange(true)) return;
  // Pending callbacks and timers are discarded; they never run (LOOP-CLOSE-04).
  ready_.discard_all();
  {
    std::lock_guard lock(inbox_mutex_);
    for (const auto& item : inbox_) item.fn(detail::ItemAction::discard, item.a, item.b);
    inbox_.clear();
  }
  // Moved out first: a release may free a task, whose frame's destructors
  // must not find the heap half dropped.
  const std::vector<TimerEntry> timers = std::exchange(timers_, {});
  const std::vector<TimerEntry> ordered_timers = ordered_timers_.take_all();
  cancelled_timers_ = 0;
  for (const auto& entry : timers) drop(entry);
  for (const auto& entry : ordered_timers) drop(entry);
}

void LoopCore::settle_pending_io() {
  // A stream closed just before the loop (a task cancelled at a deadline, say)
  // has cancelled its completion operations, but their completions, which
  // release the transport and close its socket, only come from a poll. Poll
  // while they keep coming; an operation of a stream still open would never
  // complete, so one quiet poll ends the wait.
  constexpr Nanos kQuietPoll = 50'000'000;
  if (io_undelivered()) dispatch_io();
  while (pending_io_ != 0) {
    const std::size_t before = pending_io_;
    backend_->poll(backend_->now() + kQuietPoll, io_);
    if (io_undelivered()) dispatch_io();
    if (pending_io_ == before) break;
  }
}

// --- Scheduling -------------------------------------------------------------------------

void EventLoop::throw_wrong_thread() {
  throw RuntimeError(
      "Non-thread-safe operation invoked on an event loop other than the current one");
}

void LoopCore::schedule_handle(const detail::ReadyItem& item) {
  // The loop's own thread appends directly, so call_soon_threadsafe and
  // call_soon share one FIFO there (CB-SOON-05).
  const bool own_thread =
      tls_running_loop == &loop() ||
      (!running_.load(std::memory_order_relaxed) &&
       owner_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id());
  if (own_thread) {
    ready_.push_back(item);
    return;
  }
  {
    std::lock_guard lock(inbox_mutex_);
    if (closed_.load(std::memory_order_relaxed)) {
      item.fn(detail::ItemAction::discard, item.a, item.b);
      throw LoopClosedError();
    }
    inbox_.push_back(item);
    inbox_nonempty_.store(true, std::memory_order_release);
  }
  backend_->wake();
}

void LoopCore::move_inbox_to_ready() {
  std::lock_guard lock(inbox_mutex_);
  for (const auto& item : inbox_) ready_.push_back(item);
  inbox_.clear();
  inbox_nonempty_.store(false, std::memory_order_relaxed);
}

std::uint64_t LoopCore::add_sleep_timer(Nanos deadline, detail::TaskRunner* task) {
  // No check_thread: a task only runs in its loop's run_forever.
  check_closed();
  const std::uint64_t sequence = timer_sequence_++;
  add_timer({deadline, sequence, reinterpret_cast<std::uintptr_t>(task) + kSleepTag});
  return sequence;
}

void LoopCore::on_sleep_timer_cancelled(detail::TaskRunner* task) noexcept {
  task->future().add_ref();
  ++cancelled_timers_;
}

void LoopCore::watch(int fd, unsigned events, IoHandler* handler) {
  events &= kIoReadable | kIoWritable;
  if (fd < 0) detail::throw_errno(EBADF, "watch: negative descriptor");
  const auto index = static_cast<std::size_t>(fd);
  if (events == kIoNone) {
    if (index >= registrations_.size() || registrations_[index].handler == nullptr) return;
    // Forgotten first: the backend may refuse the unwatch of a descriptor
    // closed under it, and the registration is over either way.
    const std::uint32_t generation = std::exchange(registrations_[index], {}).generation;
    --watched_count_;
    backend_->watch(fd, kIoNone, generation);
    return;
  }
  check_closed();
  if (handler == nullptr) detail::throw_errno(EINVAL, "watch: no handler");
  if (index >= registrations_.size()) registrations_.resize(index + 1);
  IoRegistration& registration = registrations_[index];
  if (registration.handler == nullptr) {
    if (++last_generation_ == 0) ++last_generation_;  // 0 marks "not watched"
    backend_->watch(fd, events, last_generation_);
    registration = {handler, events, last_generation_};
    ++watched_count_;
    return;
  }
  if (registration.events != events) backend_->watch(fd, events, registration.generation);
  registration.events = events;
  registration.handler = handler;
}

void LoopCore::submit(IoOp& op) {
  backend_->submit(op);
  ++pending_io_;
}

// --- Tasks and errors -------------------------------------------------------------------

void LoopCore::adopt_task(detail::TaskRunner* task) {
  task->future().add_ref();
  task->prev_live = nullptr;
  task->next_live = first_task_;
  if (first_task_ != nullptr) first_task_->prev_live = task;
  first_task_ = task;
  ++live_tasks_;
}

void LoopCore::release_task(detail::TaskRunner* task) noexcept {
  if (task->prev_live != nullptr) {
    task->prev_live->next_live = task->next_live;
  } else {
    first_task_ = task->next_live;
  }
  if (task->next_live != nullptr) task->next_live->prev_live = task->prev_live;
  task->prev_live = task->next_live = nullptr;
  --live_tasks_;
  task->future().release();
}

void EventLoop::cancel_pending_tasks() {
  std::vector<detail::Ref<detail::FutureBase>> tasks;
  for (detail::TaskRunner* task = first_task_; task != nullptr; task = task->next_live) {
    tasks.push_back(detail::Ref<detail::FutureBase>::share(&task->future()));
  }
  if (tasks.empty()) return;
  // Wait for each one: a task may await cleanup work after its cancellation.
  // The countdown is shared with the callbacks: if the wait ends early (a
  // task stops the loop), callbacks already queued still find it alive.
  struct Countdown {
    Future<void> all_done;
    std::size_t remaining;
    static void on_done(detail::ItemAction action, void* ctx, void* future) {
      detail::Ref<detail::FutureBase>::adopt(static_cast<detail::FutureBase*>(future));
      std::unique_ptr<std::shared_ptr<Countdown>> self(
          static_cast<std::shared_ptr<Countdown>*>(ctx));
      Countdown& countdown = **self;
      if (action == detail::ItemAction::run && --countdown.remaining == 0 &&
          !countdown.all_done.done()) {
        countdown.all_done.set_result();
      }
    }
  };
  auto countdown = std::make_shared<Countdown>(Countdown{create_future<void>(), tasks.size()});
  for (auto& task : tasks) {
    task->cancel();
    task->add_done_callback({&Countdown::on_done, new std::shared_ptr<Countdown>(countdown),
                             detail::FutureBase::unique_key()});
  }
  run_until_complete(countdown->all_done);
  for (auto& task : tasks) {
    if (!task->cancelled() && task->has_exception()) {
      call_exception_handler({"unhandled exception during shutdown", task->exception()});
    }
  }
}

void EventLoop::set_exception_handler(ExceptionHandler handler) {
  exception_handler_ = std::move(handler);
}

void EventLoop::call_exception_handler(const ExceptionContext& context) {
  if (exception_handler_) {
    try {
      exception_handler_(*this, context);
      return;
    } catch (...) {
      // A failing handler must not take the loop down; fall back to the default.
    }
  }
  std::fprintf(stderr, "loopbench: %s%s%s\n", context.message.c_str(),
               context.exception ? ": " : "",
               context.exception ? describe_exception(context.exception).c_str() : "");
}

}  // namespace loops
