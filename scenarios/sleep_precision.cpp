// sleep_precision: one task sleeps `duration` n times in a row (the
// benchmark's set: 1000 sequential 1 ms sleeps). Latency samples: each
// wake-up's overshoot, resume time minus deadline, both read from
// CLOCK_MONOTONIC directly rather than from the loop: a backend whose clock
// rounds or lags (libuv's cached millisecond clock) cannot hide an early
// wake-up from it. A negative sample is an early
// wake-up. Virtual time (traits().real_time false) has no real clock to compare
// with, so there the loop clock is used; metric independent_clock says which.
#include <time.h>

#include "scenarios/detail/harness.hpp"

namespace scenarios::detail {

namespace {

using namespace std::chrono_literals;

std::int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct SleepSeries {
  loops::EventLoop* loop;
  Activity* sleeper;
  std::int64_t n;
  std::chrono::nanoseconds duration;
  bool independent_clock;
  std::vector<std::int64_t> overshoot_ns{};
  std::int64_t early = 0;

  std::int64_t clock() const { return independent_clock ? monotonic_ns() : loop->now(); }
};

loops::Task<void> sleep_series(SleepSeries* series) {
  series->sleeper->started();
  for (std::int64_t i = 0; i < series->n; ++i) {
    // Read before sleep() reads the loop clock, so on the same clock this
    // deadline is never later than the timer's: a negative overshoot really
    // is an early wake-up.
    const std::int64_t deadline = series->clock() + series->duration.count();
    co_await loops::sleep(series->duration);
    const std::int64_t overshoot = series->clock() - deadline;
    series->overshoot_ns.push_back(overshoot);
    if (overshoot < 0) {
      ++series->early;
    }
  }
  series->sleeper->finished(0, std::to_string(series->n) + " sleeps");
}

Result run_sleep_precision(loops::EventLoop& loop, const Params& params) {
  Result result;
  Tracker tracker(result);
  const std::int64_t n = params.integer("n");
  SleepSeries series{.loop = &loop,
                     .sleeper = &tracker.single("sleeper"),
                     .n = n,
                     .duration = params.duration("duration"),
                     .independent_clock = loop.backend().traits().real_time};
  series.overshoot_ns.reserve(static_cast<std::size_t>(n));
  const loops::Task<void> main = sleep_series(&series);
  series.sleeper->attach(main);
  run_to_completion(loop, params, tracker, main);

  result.metrics["sleeps"] = static_cast<double>(series.overshoot_ns.size());
  result.metrics["early_wakeups"] = static_cast<double>(series.early);
  result.metrics["independent_clock"] = series.independent_clock ? 1.0 : 0.0;
  if (result.ok()) {
    result.latency_ns = std::move(series.overshoot_ns);
  }
  return result;
}

}  // namespace

Scenario sleep_precision_scenario() {
  return {
      .name = "sleep_precision",
      .description =
          "one task sleeps n times in a row; wake-up overshoot on an independent CLOCK_MONOTONIC "
          "(negative = early)",
      .params =
          {
              ParamSpec::integer("n", "sequential sleeps", 1000, 1, 10'000'000),
              ParamSpec::duration("duration", "how long each sleep lasts", 1ms, 0s, 1h),
          },
      .run = &run_sleep_precision,
      .metrics = {{"sleeps", ""}, {"early_wakeups", ""}, {"independent_clock", ""}},
      .items_metric = "sleeps",
      .size_param = "n",
      .latency =
          "each wake-up's overshoot: resume time minus deadline on CLOCK_MONOTONIC, read "
          "directly (the loop clock on virtual time); negative = early",
      .latency_is_lateness = true,
      // 1000 sequential 1 ms sleeps, the bare timerfd baseline's series.
      .bench_sets = {{{"n=1000", "duration=1ms"}}},
      .repeatability = [](const Params&) { return Repeatability::on_virtual_time_only; },
      .endless = {"duration=1h"},
  };
}

}  // namespace scenarios::detail
