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

// A named unit of work (a task, a thread, a callback chain), or a group of
// similar ones, whose start and end go to the trace (README.md vocabulary).
class Activity {
 public:
  // One unit, traced as `name`.
  Activity(std::vector<std::string>& trace, std::string name);
  // `size` units, traced as `<prefix><index>` when `detailed`, else counted
  // as "<size> <noun>".
  Activity(std::vector<std::string>& trace, std::string noun, std::string prefix, std::size_t size,
           bool detailed);

  // "start x"; a summarised group traces "start <size> <noun>" on its first start.
  void started(std::size_t member = 0);
  // Every member starts at once (timers armed together).
  void start_all();
  // "done x ok" (or "done x ok: <detail>"); a summarised group traces
  // "done <size> <noun> ok" when its last member finishes.
  void finished(std::size_t member = 0, std::string_view detail = {});
  // "done x error: <what>", for every member, summarised or not.
  void failed(std::size_t member, std::string_view what);
  // "cancelled x"; a summarised group only counts it (see trace_cancelled_rest).
  void cancelled(std::size_t member = 0);

  // The task that runs this (single) activity, so that the clean-up can
  // cancel it in creation order rather than in the loop's order.
  void attach(const loops::Task<void>& task) { task_ = task; }
  void cancel_task() const {
    if (task_.valid() && task_.scheduled() && !task_.done()) {
      task_.cancel();
    }
  }

  // "pending x" for each member that has not ended ("pending <k> <noun>").
  void trace_pending() const;
  // After the clean-up has cancelled everything: traces the members that had
  // not ended as cancelled, and, for a summarised group, the cancellation count.
  void trace_cancelled_rest();

 private:
  enum class State : std::uint8_t { created, running, ok, failed, cancelled };
  bool ends(std::size_t member, State state);
  std::string member_name(std::size_t member) const;
  void add(std::string line) { trace_->push_back(std::move(line)); }

  std::vector<std::string>* trace_;
  std::string name_;  // The unit's name, or the group's noun.
  std::string prefix_;
  std::size_t size_;
  bool detailed_;
  bool single_;
  std::vector<State> states_;  // Detailed only: one per member.
  std::size_t started_ = 0;
  std::size_t ended_ = 0;
  std::size_t ok_ = 0;
  std::size_t cancelled_ = 0;
  loops::Task<void> task_;
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
  // Cancels the attached tasks in creation order: their "cancelled" lines
  // then come in the same order as the "pending" ones.
  void cancel_tasks() const;
  void trace_cancelled_rest();
  Result& result() noexcept { return *result_; }

 private:
  Result* result_;
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
  // Sets the result's status and error when the deadline passed.
  void record(Result& result) const;

 private:
  std::chrono::nanoseconds limit_;
  LoopAlarm alarm_;
};

// Sets status error and its text (the first error wins).
void fail(Result& result, std::string error);

// Runs `main` until it finishes or the `deadline` parameter passes, and sets
// the status, error and wall_ns. When `main` did not finish it traces what
// was pending and calls `cancel_others` to stop whatever is not a task
// (timers, callbacks, threads). Then cancels leftover tasks (cancel_leftovers).
void run_to_completion(loops::EventLoop& loop, const Params& params, Tracker& tracker,
                       const loops::Task<void>& main,
                       const std::function<void()>& cancel_others = {});

// How long the clean-up waits for cancelled tasks that do not end. A
// cancelled task normally ends at its next await (a million of them, each
// unwinding a CancelledError, take seconds: one batch that no limit can
// cut); this bound is for a task that catches its cancellation and carries
// on, which must not make the run hang.
inline constexpr std::chrono::seconds kCleanupLimit{5};

// Cancels every task still pending on the loop (the tracker's first, in
// creation order), waits for them, and traces what was cancelled: the loop
// is then ready for the next run. Tasks made while the others end (a server
// starting the handler of a connection it just accepted) are cancelled in
// turn. When `limit` passes with no task ending, the tasks still pending
// fail the result.
void cancel_leftovers(loops::EventLoop& loop, Tracker& tracker,
                      std::chrono::nanoseconds limit = kCleanupLimit);

// wall / count, for the per-item metrics; 0 for no items.
double per_item_ns(std::int64_t wall_ns, std::int64_t count);

// One descriptor per scenario file; registry.cpp lists them.
Scenario parallel_sleeps_scenario();
Scenario gather_scenario();
Scenario stop_race_scenario();
Scenario producer_consumer_scenario();
Scenario timer_storm_scenario();
Scenario threadsafe_pingpong_scenario();
Scenario callback_chain_scenario();
Scenario sleep_precision_scenario();
Scenario tcp_echo_scenario();
Scenario fetch_many_scenario();

}  // namespace scenarios::detail
