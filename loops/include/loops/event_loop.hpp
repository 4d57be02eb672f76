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
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "loops/backend.hpp"
#include "loops/detail/ready_queue.hpp"
#include "loops/detail/ref_counted.hpp"
#include "loops/detail/segment_queue.hpp"
#include "loops/errors.hpp"

namespace loops {

class EventLoop;
template <class T>
class Future;
template <class T>
class Task;

namespace detail {
class TaskRunner;

// The loop running in this thread, if any (see running_loop_or_null).
extern constinit thread_local EventLoop* tls_running_loop;

// What run_until_complete, gather and wait accept: a Task<T> or a Future<T>.
template <class A>
concept Awaitable = requires {
  typename A::value_type;
}
&&(std::is_same_v<A, Task<typename A::value_type>> ||
   std::is_same_v<A, Future<typename A::value_type>>);

// The state behind Handle and TimerHandle: a callback that runs at most once.
class HandleState : public RefCounted {
 public:
  // Born with two references: the Handle's and the ready queue's (or heap's).
  HandleState() noexcept : RefCounted(2) {}
  // Runs the callback unless it was cancelled or `run` is false, then drops
  // the queue's reference: one virtual call where invoke and release made two.
  virtual void run_and_release(bool run) = 0;

  std::atomic<bool> cancelled{false};
  bool in_heap = false;  // A timer still waiting in the loop's timers.
  Nanos when = 0;        // Timers only: the deadline on the loop's clock.
  EventLoop* loop = nullptr;
};

template <class F>
class CallbackHandleState final : public HandleState {
 public:
  explicit CallbackHandleState(F f) : f_(std::move(f)) {}
  void run_and_release(bool run) override {
    const Ref<CallbackHandleState> self = Ref<CallbackHandleState>::adopt(this);
    if (run && !cancelled.load(std::memory_order_relaxed)) f_();
  }
  // The ready item of a call_soon: it knows the type, so it runs the handle
  // without the virtual call that a timer, known only as a HandleState, needs.
  static void run_item(ItemAction action, void* state, void* /*unused*/) {
    static_cast<CallbackHandleState*>(state)->run_and_release(action == ItemAction::run);
  }

 private:
  F f_;
};

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

// Receives readiness reports for a descriptor watched with EventLoop::watch().
class IoHandler {
 public:
  // events: the watched kIo* directions that are ready (an error or hang-up
  // counts as ready in every watched direction). Level-triggered: a
  // descriptor that stays ready is reported again in the next iteration.
  virtual void on_io_ready(unsigned events) = 0;

 protected:
  ~IoHandler() = default;
};

// Receives the result of an operation started with EventLoop::submit().
class IoCompletion {
 public:
  // result: see IoOpKind, or -errno (-ECANCELED after cancel() when the op
  // did nothing).
  virtual void on_io_complete(std::int64_t result) = 0;

 protected:
  ~IoCompletion() = default;
};

// What the loop's exception handler receives.
struct ExceptionContext {
  std::string message;           // e.g. "Exception in callback"
  std::exception_ptr exception;  // May be null (e.g. "Task was destroyed but it is pending!").
};

using ExceptionHandler = std::function<void(EventLoop&, const ExceptionContext&)>;

// Describes an exception for logs and traces: its what() or its kind.
std::string describe_exception(const std::exception_ptr& error);

class EventLoop {
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
  // of another loop. Defined in loops/loops.hpp.
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

  template <class T = void>
  Future<T> create_future();

  // Schedules the coroutine's first step with call_soon and returns the task
  // (the same object, now bound to this loop). Defined in loops/loops.hpp.
  template <class T>
  Task<T> create_task(Task<T> coroutine);

  // --- Errors -----------------------------------------------------------------

  // Receives ordinary errors escaping callbacks, unretrieved future errors
  // and tasks destroyed while pending. Pass nullptr for the default handler,
  // which writes one line to stderr.
  void set_exception_handler(ExceptionHandler handler);
  void call_exception_handler(const ExceptionContext& context);

  // --- Introspection ------------------------------------------------------------

  Backend& backend() noexcept { return *backend_; }

  // --- I/O ----------------------------------------------------------------------

  // Starts, changes or (events == kIoNone) stops watching fd: `handler` is
  // told when fd is ready in a direction of `events`. The handler must stay
  // valid until fd is unwatched. Stopping also works on a closed loop.
  // Throws std::system_error when the backend refuses the descriptor.
  void watch(int fd, unsigned events, IoHandler* handler);
  // Completion I/O (backend().traits().completion_io): starts op, whose
  // completion is then called exactly once, in a later iteration.
  void submit(IoOp& op);
  // Asks a submitted op to complete soon (see Backend::cancel).
  void cancel(IoOp& op) { backend_->cancel(op); }
  // Closes a socket that completion ops may have used, through the backend.
  void close_socket(int fd) { backend_->close_socket(fd); }
  // Iterations run so far (a test's way to count "next iteration").
  std::uint64_t iterations() const noexcept { return iterations_; }
  // Tasks created on this loop that have not finished.
  std::size_t pending_task_count() const noexcept { return live_tasks_; }

  // Cancels every pending task and runs the loop until they have all
  // finished; errors other than cancellation go to the exception handler.
  // What asyncio.run does before closing its loop (LOOP-CLOSE-06).
  void cancel_pending_tasks();

  // --- For the core's own types (futures, tasks, combinators) -------------------

  // Appends an internal item to the ready queue (no handle, no allocation).
  void push_ready(const detail::ReadyItem& item) { ready_.push_back(item); }
  void check_closed() const {
    if (is_closed()) throw LoopClosedError();
  }
  // Throws RuntimeError when called from a thread that is not running this
  // loop while it runs (asyncio's debug-mode _check_thread, always on here).
  void check_thread() const {
    if (detail::tls_running_loop != this && is_running()) throw_wrong_thread();
  }
  void adopt_task(detail::TaskRunner* task);
  void release_task(detail::TaskRunner* task) noexcept;
  // The timer of a sleeping task: no handle, no allocation. When it is due,
  // the loop queues TaskRunner::wake_from_sleep. Returns the timer's
  // sequence number, never 0, by which the task tells its current timer from
  // the older, cancelled ones.
  std::uint64_t add_sleep_timer(Nanos deadline, detail::TaskRunner* task);
  // The task's sleep timer, still in the heap, was cancelled: the heap keeps
  // the task alive until it drops the timer.
  void on_sleep_timer_cancelled(detail::TaskRunner* task) noexcept;

 private:
  friend class Handle;
  [[noreturn]] static void throw_wrong_thread();
  void enter_run();
  void leave_run() noexcept;
  void run_once();
  void run_ready_item(const detail::ReadyItem& item);
  // Queues a call_soon_threadsafe handle's item, from any thread.
  void schedule_handle(const detail::ReadyItem& item);
  void move_inbox_to_ready();
  // Inline, like add_timer's common case: call_at's cost is mostly these.
  void push_timer(detail::HandleState* state) {
    state->in_heap = true;
    add_timer({state->when, timer_sequence_++, reinterpret_cast<std::uintptr_t>(state)});
  }
  void on_timer_cancelled();
  void drop_cancelled_timers();
  bool timer_may_be_due(bool after_wait) noexcept;
  bool read_clock_for_timers(bool after_wait) noexcept;
  void settle_pending_io();
  bool io_undelivered() const noexcept { return !io_.ready.empty() || !io_.completed.empty(); }
  void dispatch_io();
  void deliver(const IoReadiness& record);
  // The ready item of a timer's handle.
  static void run_handle_item(detail::ItemAction action, void* state, void*);

  // A callback's timer (a HandleState, on which the heap holds a reference)
  // or a sleeping task's (a TaskRunner, tagged by the low bit: the task is
  // alive while its current timer waits, and a cancelled one holds a reference).
  struct TimerEntry {
    Nanos when;
    std::uint64_t sequence;
    std::uintptr_t target;
  };
  static constexpr std::uintptr_t kSleepTag = 1;
  // The heap's order, as a type rather than a function, so that the heap
  // algorithms inline it.
  struct Later {
    bool operator()(const TimerEntry& a, const TimerEntry& b) const noexcept {
      return a.when != b.when ? a.when > b.when : a.sequence > b.sequence;
    }
  };
  void add_timer(const TimerEntry& entry) {
    clock_checks_to_skip_ = 0;  // The new timer may be the earliest.
    if (ordered_timers_.empty() || entry.when >= ordered_timers_.back().when) {
      ordered_timers_.push_back(entry);  // Its sequence number is the largest yet.
    } else {
      add_timer_out_of_order(entry);
    }
  }
  void add_timer_out_of_order(const TimerEntry& entry);
  bool has_timers() const noexcept { return !timers_.empty() || !ordered_timers_.empty(); }
  // The earliest timer of both collections, and popping it. Timers only.
  const TimerEntry& earliest_timer() const noexcept;
  TimerEntry pop_earliest_timer() noexcept;
  static bool is_cancelled(const TimerEntry& entry) noexcept;
  // Moves a due timer, taken from the timers, to the ready queue.
  void fire(const TimerEntry& entry);
  // Forgets a timer taken from the timers without firing it.
  static void drop(const TimerEntry& entry) noexcept;

  std::unique_ptr<Backend> backend_;
  // Declared before the two queues that share it, so that it outlives them.
  detail::SegmentPool segments_;
  detail::ReadyQueue ready_{segments_};
  std::vector<TimerEntry> timers_;  // A min-heap on (when, sequence).
  // Timers added in deadline order (sleeps or call_laters of one duration,
  // the common case) queue here instead, in that order: adding and popping
  // cost O(1) and touch memory in sequence, where the heap costs O(log n)
  // scattered moves. Node.js keeps its timers in one such list per duration.
  detail::SegmentQueue<TimerEntry> ordered_timers_{segments_};
  std::size_t cancelled_timers_ = 0;
  std::uint64_t timer_sequence_ = 1;  // 0 means "no timer" to a TaskRunner.
  std::uint64_t iterations_ = 0;
  // The coarse clock's guard for timer_may_be_due (0: always read now()), and
  // the busy iterations since now() was last read for the timers.
  Nanos coarse_clock_guard_ = 0;
  std::uint32_t iterations_without_clock_ = 0;
  // Busy iterations that may still skip the coarse clock (timer_may_be_due).
  std::uint32_t clock_checks_to_skip_ = 0;
  // The descriptors watched, indexed by fd: a registration's handler, the
  // directions it wants and its generation, by which a report from the
  // backend that an earlier handler of the same batch made stale (it
  // unwatched the descriptor, or watched a new one under the same number) is
  // told from a current one.
  struct IoRegistration {
    IoHandler* handler = nullptr;  // nullptr: not watched
    unsigned events = kIoNone;
    std::uint32_t generation = 0;
  };
  std::vector<IoRegistration> registrations_;
  std::size_t watched_count_ = 0;
  std::uint32_t last_generation_ = 0;
  // Ops submitted and not yet completed: while there are any (or watched
  // descriptors), a busy loop still polls, without blocking, for I/O.
  std::size_t pending_io_ = 0;
  // What the backend's polls reported and the loop has not delivered yet:
  // empty between iterations unless a FatalError left the loop while
  // delivering.
  IoBatch io_;

  bool stopping_ = false;
  std::atomic<bool> running_{false};
  std::atomic<bool> closed_{false};
  std::atomic<std::thread::id> owner_thread_;
  EventLoop* outer_running_loop_ = nullptr;

  // call_soon_threadsafe from other threads lands here, then in ready_.
  std::mutex inbox_mutex_;
  std::vector<detail::ReadyItem> inbox_;
  std::atomic<bool> inbox_nonempty_{false};

  // Tasks still running; the loop holds a reference to each.
  detail::TaskRunner* first_task_ = nullptr;
  std::size_t live_tasks_ = 0;

  ExceptionHandler exception_handler_;
};

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
