// stop_race: the seed's run_forever() pitfall. Variant naive: tasks a and b
// each call loop.stop() when done, so the first to finish stops the loop and
// the other is left pending. Variant fixed: gather(a, b) with a done callback
// that stops the loop, so both finish. Variant same_batch: a and b each
// await one shared sleep(sleep_a), then call loop.stop(): its done callbacks
// wake them in one batch, and stop() ends the loop only after that batch, so
// both finish (SEMANTICS LOOP-STOP-01, FUT-08). Metric stop_to_return_ns (also
// the one latency sample): wall time from loop.stop() to run_forever() returning.
#include <tuple>
#include <variant>

#include "scenarios/detail/harness.hpp"

namespace scenarios::detail {

namespace {

using namespace std::chrono_literals;

struct StopRace {
  loops::EventLoop* loop;
  Tracker* tracker;
  Clock::time_point stop_requested{};
  bool stopped_by_scenario = false;

  void stop_loop() {
    tracker->event("stop loop");
    stopped_by_scenario = true;
    stop_requested = Clock::now();
    loop->stop();
  }
};

loops::Task<void> do_some(StopRace* race, std::chrono::nanoseconds delay, bool stop_when_done) {
  co_await loops::sleep(delay);
  if (stop_when_done) {
    race->stop_loop();
  }
}

loops::Task<void> sleep_for(std::chrono::nanoseconds delay) {
  co_await loops::sleep(delay);
}

loops::Task<void> await_then_stop(StopRace* race, loops::Task<void> shared) {
  co_await shared;
  race->stop_loop();
}

Result run_stop_race(loops::EventLoop& loop, const Params& params) {
  Result result;
  Tracker tracker(result);
  StopRace race{&loop, &tracker};
  const std::string& variant = params.choice("variant");
  const auto delay_a = params.duration("sleep_a");
  const auto delay_b = params.duration("sleep_b");

  // Fixed: one future for both, whose done callback stops the loop. Removed
  // before the clean-up, so that cancelling a and b after a timeout does not
  // stop the loop a second time.
  loops::Future<std::tuple<std::monostate, std::monostate>> both;
  loops::CallbackKey stop_key;
  if (variant == "naive") {
    spawn(loop, tracker, "a", do_some(&race, delay_a, true));
    spawn(loop, tracker, "b", do_some(&race, delay_b, true));
  } else if (variant == "same_batch") {
    const loops::Task<void> shared = loop.create_task(sleep_for(delay_a));
    spawn(loop, tracker, "a", await_then_stop(&race, shared));
    spawn(loop, tracker, "b", await_then_stop(&race, shared));
  } else {
    // Named first: argument evaluation order would otherwise decide the trace's order.
    Activity& a = tracker.single("a");
    Activity& b = tracker.single("b");
    both = loops::gather(loop, traced(a, do_some(&race, delay_a, false)),
                         traced(b, do_some(&race, delay_b, false)));
    stop_key = both.add_done_callback([&race](const auto&) { race.stop_loop(); });
  }

  {
    DeadlineGuard deadline(loop, params.duration("deadline"), tracker);
    const auto start = Clock::now();
    try {
      loop.run_forever();
    } catch (...) {
      fail(result, loops::describe_exception(std::current_exception()));
    }
    const auto returned = Clock::now();
    result.wall_ns = elapsed_ns(start);
    tracker.event("loop stopped");
    if (race.stopped_by_scenario) {
      const auto stop_to_return =
          std::chrono::duration_cast<std::chrono::nanoseconds>(returned - race.stop_requested);
      result.metrics["stop_to_return_ns"] = static_cast<double>(stop_to_return.count());
      result.latency_ns.push_back(stop_to_return.count());
    }
    deadline.record(result);
  }
  // The naive variant's point: the slower task is still pending here.
  tracker.trace_pending();
  if (both.valid()) {
    both.remove_done_callback(stop_key);
  }
  cancel_leftovers(loop, tracker);
  // Cancelling a or b fails the gather with CancelledError: expected, so
  // mark it seen rather than let the future report it as never retrieved.
  if (both.valid() && both.done() && !both.cancelled()) {
    (void)both.exception();
  }
  return result;
}

}  // namespace

Scenario stop_race_scenario() {
  return {
      .name = "stop_race",
      .description =
          "run_forever() with tasks that stop the loop (naive: the slower one is left pending; "
          "same_batch: both are woken in one batch and finish), or gather + done callback "
          "(fixed); stop-to-return latency",
      .params =
          {
              ParamSpec::choice("variant",
                                "fixed: gather + done callback; naive: each task stops the loop; "
                                "same_batch: both await one sleep, then each stops the loop",
                                {"fixed", "naive", "same_batch"}),
              ParamSpec::duration(
                  "sleep_a", "how long task a sleeps (same_batch: the shared sleep)", 1ms, 0s, 1h),
              ParamSpec::duration("sleep_b", "how long task b sleeps (unused by same_batch)", 2ms,
                                  0s, 1h),
          },
      .run = &run_stop_race,
      .metrics = {{"stop_to_return_ns", "ns"}},
      .latency = "one per run: wall time from loop.stop() to run_forever() returning",
      // Short sleeps: each run yields one sample, so many runs.
      .bench_sets = {{{"variant=fixed", "sleep_a=1ms", "sleep_b=2ms"}}},
      // Most of its few thousand instructions are the deadline watchdog's
      // thread start and join, whose timing moves the count by 1-6%.
      .repeatability = [](const Params&) { return Repeatability::never; },
      .endless = {"sleep_a=1h", "sleep_b=1h"},
  };
}

}  // namespace scenarios::detail
