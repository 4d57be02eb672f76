// LoopCore: the machinery behind EventLoop, as Asio's scheduler is behind its
// io_context. EventLoop derives from it privately and adds the asyncio user
// API (loops/event_loop.hpp); the core's own types reach the hooks below
// through detail::core_of(loop): futures and tasks (core/future.cpp,
// task.hpp), combinators (gather.hpp) and streams (core/streams.cpp). The
// state lives here, and EventLoop, a friend, uses it directly, so the user
// API costs no indirection: core_of is a conversion to a base at offset 0.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "loops/backend.hpp"
#include "loops/detail/ready_queue.hpp"
#include "loops/detail/ref_counted.hpp"
#include "loops/detail/segment_queue.hpp"
#include "loops/errors.hpp"

namespace loops {

class EventLoop;

// Receives readiness reports for a descriptor watched with LoopCore::watch().
class IoHandler {
 public:
  // events: the watched kIo* directions that are ready (an error or hang-up
  // counts as ready in every watched direction). Level-triggered: a
  // descriptor that stays ready is reported again in the next iteration.
  virtual void on_io_ready(unsigned events) = 0;

 protected:
  ~IoHandler() = default;
};

// Receives the result of an operation started with LoopCore::submit().
class IoCompletion {
 public:
  // result: see IoOpKind, or -errno (-ECANCELED after cancel() when the op
  // did nothing).
  virtual void on_io_complete(std::int64_t result) = 0;

 protected:
  ~IoCompletion() = default;
};

namespace detail {
class LoopCore;
class TaskRunner;

// The loop running in this thread, if any (see running_loop_or_null).
extern constinit thread_local EventLoop* tls_running_loop;

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
  LoopCore* loop = nullptr;
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

class LoopCore {
 public:
  LoopCore(const LoopCore&) = delete;
  LoopCore& operator=(const LoopCore&) = delete;

  // --- For futures, tasks and combinators ------------------------------------

  // Appends an internal item to the ready queue (no handle, no allocation).
  void push_ready(const ReadyItem& item) { ready_.push_back(item); }
  void check_closed() const {
    if (closed_.load(std::memory_order_relaxed)) throw LoopClosedError();
  }
  // The loop's list of live tasks: it holds a reference to each.
  void adopt_task(TaskRunner* task);
  void release_task(TaskRunner* task) noexcept;

  // Sleep timers: who owns what. A sleeping task's timer is an entry in the
  // loop's timers (a TimerEntry tagged with kSleepTag), not an object: there
  // is nothing to allocate or free but the entry itself. (A delay <= 0 takes
  // no timer: the task only yields.)
  //  - Created by TaskRunner::sleep (core/future.cpp, for SleepAwaiter in
  //    run.hpp) through add_sleep_timer, which returns the entry's sequence
  //    number. The task keeps it as its current timer (waiting_on_) and
  //    notes that the entry is in the timers (sleep_timer_in_heap_; both in
  //    task.hpp). While it is current the entry holds no reference: the task
  //    is kept alive by the loop's list of live tasks, and it cannot finish
  //    while suspended on the timer.
  //  - Fired (core/event_loop.cpp, fire): the due entry leaves the timers,
  //    sleep_timer_in_heap_ is cleared, and TaskRunner::wake_from_sleep is
  //    queued; it resumes the task if the timer is still current. A cancel
  //    between the firing and the wake-up queues the task's step behind the
  //    wake-up, so the task is alive when it runs, and it then does nothing.
  //  - Cancelled (TaskRunner::request_cancel): the task forgets the timer
  //    (it is no longer current) and queues its step at once. If the entry
  //    is still in the timers, on_sleep_timer_cancelled gives it a reference
  //    to the task, which may now finish first. The entry leaves the timers
  //    when it reaches their front (run_once and drop_cancelled_timers drop
  //    cancelled entries there) or in drop_cancelled_timers' bulk clean-up,
  //    and drop() then releases that reference.
  //  - Loop closed (EventLoop::close): every entry is dropped. A current one
  //    only clears sleep_timer_in_heap_ (the task stays pending until the
  //    loop's destructor abandons it); a cancelled one releases its reference.
  std::uint64_t add_sleep_timer(Nanos deadline, TaskRunner* task);
  void on_sleep_timer_cancelled(TaskRunner* task) noexcept;
  // A callback's timer, still in the heap, was cancelled (Handle::cancel).
  void on_timer_cancelled() noexcept { ++cancelled_timers_; }

  // --- For streams: the backend's I/O --------------------------------------

  // Starts, changes or (events == kIoNone) stops watching fd: `handler` is
  // told when fd is ready in a direction of `events`. The handler must stay
  // valid until fd is unwatched. Stopping also works on a closed loop.
  // Throws std::system_error when the backend refuses the descriptor.
  void watch(int fd, unsigned events, IoHandler* handler);
  // Completion I/O (backend traits().completion_io): starts op, whose
  // completion is then called exactly once, in a later iteration.
  void submit(IoOp& op);
  // Asks a submitted op to complete soon (see Backend::cancel).
  void cancel(IoOp& op) { backend_->cancel(op); }
  // Closes a socket that completion ops may have used, through the backend.
  void close_socket(int fd) { backend_->close_socket(fd); }

 private:
  friend class loops::EventLoop;

  explicit LoopCore(std::unique_ptr<Backend> backend);
  ~LoopCore() = default;
  // The EventLoop this is the core of. Defined in event_loop.hpp.
  EventLoop& loop() noexcept;

  void enter_run();
  void leave_run() noexcept;
  void run_once();
  void run_ready_item(const ReadyItem& item);
  // Queues a call_soon_threadsafe handle's item, from any thread.
  void schedule_handle(const ReadyItem& item);
  void move_inbox_to_ready();
  // Inline, like add_timer's common case: call_at's cost is mostly these.
  void push_timer(HandleState* state) {
    state->in_heap = true;
    add_timer({state->when, timer_sequence_++, reinterpret_cast<std::uintptr_t>(state)});
  }
  void drop_cancelled_timers();
  bool timer_may_be_due(bool after_wait) noexcept;
  bool read_clock_for_timers(bool after_wait) noexcept;
  void settle_pending_io();
  bool io_undelivered() const noexcept { return !io_.ready.empty() || !io_.completed.empty(); }
  void dispatch_io();
  void deliver(const IoReadiness& record);
  // The ready item of a timer's handle.
  static void run_handle_item(ItemAction action, void* state, void*);

  // A callback's timer (a HandleState, on which the heap holds a reference)
  // or a sleeping task's (a TaskRunner, tagged by the low bit; see
  // add_sleep_timer for who owns what).
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
  SegmentPool segments_;
  ReadyQueue ready_{segments_};
  std::vector<TimerEntry> timers_;  // A min-heap on (when, sequence).
  // Timers added in deadline order (sleeps or call_laters of one duration,
  // the common case) queue here instead, in that order: adding and popping
  // cost O(1) and touch memory in sequence, where the heap costs O(log n)
  // scattered moves. Node.js keeps its timers in one such list per duration.
  SegmentQueue<TimerEntry> ordered_timers_{segments_};
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

  // call_soon_threadsafe from other threads lands here, then in ready_.
  std::mutex inbox_mutex_;
  std::vector<ReadyItem> inbox_;
  std::atomic<bool> inbox_nonempty_{false};

  // Tasks still running; the loop holds a reference to each.
  TaskRunner* first_task_ = nullptr;
  std::size_t live_tasks_ = 0;
};

}  // namespace detail
}  // namespace loops
