// parallel_sleeps: n tasks each sleep `duration` at once (the seed's four
// parallel sleep(1) calls, scaled to a million). Finishes in about `duration`,
// not n times it. Latency samples: each task's wake-up overshoot, its resume
// time minus its deadline on the loop clock; a negative one is an early wake-up.
#include "scenarios/detail/harness.hpp"

namespace scenarios::detail {

namespace {

using namespace std::chrono_literals;

// Shared by all sleepers; per task only its coroutine frame and one sample.
struct SleepRun {
  loops::EventLoop* loop;
  std::chrono::nanoseconds duration;
  Activity* sleepers;
  std::vector<std::int64_t> overshoot_ns;
  std::size_t awake = 0;
  std::size_t early = 0;
  loops::Future<void> all_awake;
  loops::Nanos last_wake = 0;
};

// The work after the sleep, kept out of the coroutine: GCC keeps every local
// of a coroutine in its frame, and there are a million frames.
void wake(SleepRun* run, std::size_t index) {
  const loops::Nanos now = run->loop->now();
  std::int64_t& sample = run->overshoot_ns[index];
  const loops::Nanos deadline = sample;
  sample = now - deadline;
  if (now < deadline) {
    ++run->early;
  }
  run->last_wake = now;
  run->sleepers->finished(index);
  if (++run->awake == run->overshoot_ns.size()) {
    run->all_awake.set_result();
  }
}

loops::Task<void> sleeper(SleepRun* run, std::size_t index) {
  run->sleepers->started(index);
  // Read before sleep() reads the clock, so this deadline is never later than
  // the timer's: a negative overshoot really is an early wake-up. It waits in
  // the task's sample, not in the frame.
  run->overshoot_ns[index] = run->loop->now() + run->duration.count();
  // A named awaiter takes 8 bytes less of the frame than a temporary one.
  auto nap = loops::sleep(run->duration);
  try {
    co_await nap;
  } catch (const loops::CancelledError&) {
    run->sleepers->cancelled(index);
    throw;
  }
  wake(run, index);
}

loops::Task<void> start_sleepers(SleepRun* run) {
  for (std::size_t i = 0; i < run->overshoot_ns.size(); ++i) {
    run->sleepers->attach(run->loop->create_task(sleeper(run, i)), i);
  }
  co_await run->all_awake;
}

Result run_parallel_sleeps(loops::EventLoop& loop, const Params& params) {
  Result result;
  Tracker tracker(result);
  const auto n = static_cast<std::size_t>(params.integer("n"));
  SleepRun run{.loop = &loop,
               .duration = params.duration("duration"),
               .sleepers = &tracker.group("sleepers", "t", n, n <= kDetailLimit),
               .overshoot_ns = std::vector<std::int64_t>(n, 0),
               .all_awake = loop.create_future<void>()};
  const loops::Nanos start = loop.now();
  run_to_completion(loop, params, tracker, start_sleepers(&run));

  result.metrics["tasks"] = static_cast<double>(n);
  result.metrics["early_wakeups"] = static_cast<double>(run.early);
  result.metrics["loop_elapsed_ns"] =
      static_cast<double>(run.awake == n ? run.last_wake - start : loop.now() - start);
  // A run cut short by its deadline has no complete sample set: report none.
  if (run.awake == n) {
    result.latency_ns = std::move(run.overshoot_ns);
  }
  return result;
}

}  // namespace

Scenario parallel_sleeps_scenario() {
  return {
      .name = "parallel_sleeps",
      .description =
          "n tasks sleep at once; wall time and per-task wake-up overshoot (negative = early)",
      .params =
          {
              ParamSpec::integer("n", "number of sleeping tasks", 1000, 1, 10'000'000),
              ParamSpec::duration("duration", "how long each task sleeps", 1ms, 0s, 1h),
          },
      .run = &run_parallel_sleeps,
      .metrics = {{"tasks", ""}, {"early_wakeups", ""}, {"loop_elapsed_ns", "ns"}},
      .items_metric = "tasks",
      .size_param = "n",
      .latency =
          "each task's wake-up overshoot: its resume time minus its deadline on the loop "
          "clock (negative = early)",
      .latency_is_lateness = true,
      .sleep_param = "duration",
      // The large one is libuv's and asyncio's million sleepers.
      .bench_sets = {{{"n=1000", "duration=1ms"}}, {{"n=1000000", "duration=1s"}, true}},
      .repeatability = [](const Params&) { return Repeatability::on_virtual_time_only; },
      .endless = {"duration=1h"},
  };
}

}  // namespace scenarios::detail
