// What every scenario shares: tracing named activities, the deadline that
// turns a hang into a timeout, and the run-then-clean-up sequence that leaves
// the loop reusable. Internal to the scenarios library.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "loops/loops.hpp"
#include "scenarios/scenario.hpp"

namespace scenarios::detail {

using Clock = std::chrono::steady_clock;

inline std::int64_t elapsed_ns(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - since).count();
}

// Groups with more members than this are traced as summary lines ("start
// 1000 sleepers") instead of one line per member, so a million tasks cost no
// strings.
inline constexpr std::size_t kDetailLimit = 16;

class Tracker;

// A named unit of work (a task, a thread, a callback chain), or a group of
// similar ones, whose start and end go to the trace (README.md vocabulary).
//
// A member that ends by cancellation is traced "cancelled x" only once it
// really has: during the run when its body sees the CancelledError; during the
// clean-up (Tracker::begin_cleanup) afterwards, in creation order, and only
// if the task attached to it did end cancelled (trace_cancelled_rest).
class Activity {
 public:
  // One unit, traced as `name`.
  Activity(Tracker& tracker, std::string name);
  // `size` units, traced as `<prefix><index>` when `detailed`, else counted
  // as "<size> <noun>".
  Activity(Tracker& tracker, std::string noun, std::string prefix, std::size_t size, bool detailed);

  // "start x"; a summarised group traces "start <size> <noun>" on its first start.
  void started(std::size_t member = 0);
  // Every member starts at once (timers armed together).
  void start_all();
  // "done x ok" (or "done x ok: <detail>"); a summarised group traces
  // "done <size> <noun> ok" when its last member finishes.
  void finished(std::size_t member = 0, std::string_view detail = {});
  // "done x error: <what>", for every member, summarised or not.
  void failed(std::size_t member, std::string_view what);
  // The member saw its cancellation (its body caught the CancelledError, or
  // its timer or thread was really stopped). During the run: "cancelled x".
  // During the clean-up it is noted, and traced by trace_cancelled_rest; a
  // summarised group only counts it.
  void cancelled(std::size_t member = 0);

  // The task that runs a member of a single activity or detailed group, so
  // that the clean-up cancels it in creation order and checks that it really
  // ended cancelled. A summarised group keeps no tasks: a million handles
  // would cost the benchmark.
  void attach(const loops::Task<void>& task, std::size_t member = 0);
  void cancel_tasks() const;

  // "pending x" for each member that has not ended ("pending <k> <noun>").
  void trace_pending() const;
  // After the clean-up, in creation order: "cancelled x" for each member
  // that had not ended and whose attached task ended cancelled (a member
  // without a task: that saw its cancellation); a summarised group traces
  // "cancelled <k> <noun>" for the k members that saw theirs.
  void trace_cancelled_rest();

 private:
  enum class State : std::uint8_t { created, running, ok, failed, cancelled, cancel_seen };
  bool ends(std::size_t member, State state);
  bool ended_cancelled(std::size_t member) const;
  std::string member_name(std::size_t member) const;
  void add(std::string line) const;

  Tracker* tracker_;
  std::string name_;  // The unit's name, or the group's noun.
  std::string prefix_;
  std::size_t size_;
  bool detailed_;
  bool single_;
  std::vector<State> states_;             // Detailed only: one per member.
  std::vector<loops::Task<void>> tasks_;  // Detailed only: one per member, or none.
  std::size_t started_ = 0;
  std::size_t ended_ = 0;
  std::size_t ok_ = 0;
  std::size_t cancelled_ = 0;
};

// The activities of one run, in creation order, writing to its trace.
class Tracker {
 public:
  explicit Tracker(Result& result) : result_(&result) {}
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  Activity& single(std::string name);
  Activity& group(std::string noun, std::string prefix, std::size_t size, bool detailed);
  // A trace line that belongs to no activity ("stop loop", "join queue").
  void event(std::string text) { result_->trace.push_back(std::move(text)); }
  void trace_pending() const;
  // From here on, cancellations are the clean-up's: traced after it, in
  // creation order, so that the order in which the loop delivers them (which
  // asyncio leaves to the order of the cancel() calls) does not matter.
  void begin_cleanup() noexcept { cleaning_up_ = true; }
  bool cleaning_up() const noexcept { return cleaning_up_; }
  // Cancels the attached tasks in creation order.
  void cancel_tasks() const;
  void trace_cancelled_rest();
  Result& result() noexcept { return *result_; }

 private:
  Result* result_;
  bool cleaning_up_ = false;
  std::deque<Activity> activities_;  // A deque: references stay valid as it grows.
};

// A coroutine that awaits `body` inline, traced as `activity` (a single
// one, which it is attached to): start, then done ok, done error or
// cancelled. Errors and cancellation propagate. Schedule it or gather it.
loops::Task<void> traced(Activity& activity, loops::Task<void> body);

// Schedules `body` as a task traced under a new activity called `name`.
loops::Task<void> spawn(loops::EventLoop& loop, Tracker& tracker, std::string name,
                        loops::Task<void> body);

// Stops the loop once `limit` has passed, calling `on_ring` just before. The
// limit is watched twice: by a loop timer (exact on virtual time, where it
// passes as soon as the loop would otherwise wait) and by a wall-clock
// watchdog thread, because virtual time stands still while the loop is busy
// (a callback chain on the sim backend would never see its timer fire).
// Whichever comes first counts. The loop stops after the batch it is running:
// what stops a run at its next await point is the clean-up that follows,
// which cancels every task.
class LoopAlarm {
 public:
  // Which clocks watch the limit. The clean-up watches the wall clock only:
  // with a loop timer armed for it, sockets accepted during the clean-up were
  // not released when the loop closed on the completion backends (an ASan
  // leak; the cause is not known yet).
  enum class Clocks { loop_and_wall, wall };

  LoopAlarm(loops::EventLoop& loop, std::chrono::nanoseconds limit, std::function<void()> on_ring,
            Clocks clocks = Clocks::loop_and_wall);
  ~LoopAlarm();
  LoopAlarm(const LoopAlarm&) = delete;
  LoopAlarm& operator=(const LoopAlarm&) = delete;

  bool rang() const noexcept { return state_->rang; }

 private:
  // Shared with the watchdog's call_soon_threadsafe callback, which may run
  // after the alarm is gone; all fields but `released` are loop-thread only.
  struct State {
    loops::EventLoop* loop;
    std::function<void()> on_ring;
    bool active = true;
    bool rang = false;
    std::mutex mutex;
    std::condition_variable released_cv;
    bool released = false;
    void ring();
  };
  std::shared_ptr<State> state_;
  loops::TimerHandle timer_;
  std::thread watchdog_;
};

// The scenario's deadline: a LoopAlarm that traces "timeout after <deadline>"
// when it stops the loop.
class DeadlineGuard {
 public:
  DeadlineGuard(loops::EventLoop& loop, std::chrono::nanoseconds limit, Tracker& tracker);

  bool expired() const noexcept { return alarm_.rang(); }
  // Sets the result's status and error when the deadline passed, unless an
  // error is recorded already.
  void record(Result& result) const;

 private:
  std::chrono::nanoseconds limit_;
  LoopAlarm alarm_;
};

// Sets status error and its text (the first error wins).
void fail(Result& result, std::string error);

// Runs `main` until it finishes or the `deadline` parameter passes, and sets
// the status, error and wall_ns. When `main` did not finish it traces what
// was pending, begins the clean-up and calls `cancel_others` to stop whatever
// is not a task (timers, callbacks, threads). Then cancels leftover tasks
// (cancel_leftovers).
void run_to_completion(loops::EventLoop& loop, const Params& params, Tracker& tracker,
                       const loops::Task<void>& main,
                       const std::function<void()>& cancel_others = {});

// How long the clean-up waits for cancelled tasks that do not end. A
// cancelled task normally ends at its next await (a million of them, each
// unwinding a CancelledError, take seconds: one batch that no limit can
// cut); this bound is for a task that catches its cancellation and carries
// on, which must not make the run hang.
inline constexpr std::chrono::seconds kCleanupLimit{5};

// Begins the clean-up, cancels every task still pending on the loop (the tracker's first, in
// creation order), waits for them, and traces what was cancelled: the loop
// is then ready for the next run. Tasks made while the others end (a server
// starting the handler of a connection it just accepted) are cancelled in
// turn. When `limit` passes with no task ending, the tasks still pending
// fail the result.
void cancel_leftovers(loops::EventLoop& loop, Tracker& tracker,
                      std::chrono::nanoseconds limit = kCleanupLimit);

// wall / count, for the per-item metrics; 0 for no items.
double per_item_ns(std::int64_t wall_ns, std::int64_t count);

}  // namespace scenarios::detail
