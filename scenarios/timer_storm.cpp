// timer_storm: libuv's million_timers. n timers with deadlines spread over
// `spread` in 1000 equal steps (1000 timers per millisecond for the
// defaults), reported as three phases apart: schedule_ns (the n call_at
// calls), dispatch_ns (from the last call_at until the last timer fired; it
// includes waiting for the deadlines) and total_ns. Latency samples: each
// timer's lateness, its callback time minus its deadline on the loop clock.
// Up to 16 timers, the trace names each firing ("done timer3 ok"): the order
// of deadlines, which asyncio defines.
#include "scenarios/detail/harness.hpp"

namespace scenarios::detail {

namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kDeadlineSteps = 1000;

struct Storm {
  loops::EventLoop* loop;
  Activity* timers;
  std::int64_t n;
  std::chrono::nanoseconds spread;
  loops::Nanos base = 0;
  // Kept so that a run cut short by its deadline can cancel what is left.
  std::vector<loops::TimerHandle> handles{};
  std::vector<std::int64_t> lateness_ns{};
  loops::Future<void> all_fired;
  std::int64_t schedule_ns = 0;
  std::int64_t dispatch_ns = 0;
  std::int64_t total_ns = 0;
};

// Timer i's deadline: computed again when it fires rather than kept, so that
// a callback holds no more than it did before timers were named.
loops::Nanos deadline_of(const Storm& storm, std::int64_t i) {
  const std::int64_t step = i * kDeadlineSteps / storm.n + 1;
  return storm.base + storm.spread.count() * step / kDeadlineSteps;
}

void on_timer(Storm* storm, std::int64_t index) {
  storm->timers->finished(static_cast<std::size_t>(index));
  storm->lateness_ns.push_back(storm->loop->now() - deadline_of(*storm, index));
  if (storm->lateness_ns.size() == storm->handles.size()) {
    storm->all_fired.set_result();
  }
}

loops::Task<void> storm_main(Storm* storm) {
  loops::EventLoop& loop = *storm->loop;
  const auto schedule_start = Clock::now();
  storm->base = loop.now();
  for (std::int64_t i = 0; i < storm->n; ++i) {
    storm->handles.push_back(
        loop.call_at(deadline_of(*storm, i), [storm, i] { on_timer(storm, i); }));
  }
  const auto dispatch_start = Clock::now();
  storm->schedule_ns = elapsed_ns(schedule_start);
  storm->timers->start_all();
  co_await storm->all_fired;
  storm->dispatch_ns = elapsed_ns(dispatch_start);
  storm->total_ns = elapsed_ns(schedule_start);
}

Result run_timer_storm(loops::EventLoop& loop, const Params& params) {
  Result result;
  Tracker tracker(result);
  const std::int64_t n = params.integer("n");
  const auto size = static_cast<std::size_t>(n);
  const bool detailed = size <= kDetailLimit;
  Storm storm{.loop = &loop,
              .timers = &tracker.group("timers", "timer", size, detailed),
              .n = n,
              .spread = params.duration("spread"),
              .all_fired = loop.create_future<void>()};
  // Reserved up front: growing these would be measured as scheduling or dispatch cost.
  storm.handles.reserve(static_cast<std::size_t>(n));
  storm.lateness_ns.reserve(static_cast<std::size_t>(n));
  run_to_completion(loop, params, tracker, storm_main(&storm), [&storm, detailed] {
    // The timers that had not fired are really cancelled: a detailed group
    // knows which (it ignores the fired ones), a summarised one counts them.
    const std::size_t fired = storm.lateness_ns.size();
    for (std::size_t i = 0; i < storm.handles.size(); ++i) {
      storm.handles[i].cancel();
      if (detailed || i >= fired) {
        storm.timers->cancelled(i);
      }
    }
  });
  result.metrics["timers"] = static_cast<double>(n);
  result.metrics["schedule_ns"] = static_cast<double>(storm.schedule_ns);
  result.metrics["schedule_ns_per_timer"] = per_item_ns(storm.schedule_ns, n);
  result.metrics["dispatch_ns"] = static_cast<double>(storm.dispatch_ns);
  result.metrics["total_ns"] = static_cast<double>(storm.total_ns);
  if (result.ok()) {
    result.latency_ns = std::move(storm.lateness_ns);
  }
  return result;
}

}  // namespace

Scenario timer_storm_scenario() {
  return {
      .name = "timer_storm",
      .description =
          "n timers with spread deadlines (libuv's million_timers); schedule, dispatch and total "
          "time apart",
      .params =
          {
              ParamSpec::integer("n", "number of timers", 1'000'000, 1, 10'000'000),
              ParamSpec::duration(
                  "spread", "the last deadline; deadlines step up in 1000 equal steps", 1s, 0s, 1h),
          },
      .run = &run_timer_storm,
      .metrics = {{"timers", ""},
                  {"schedule_ns", "ns"},
                  {"schedule_ns_per_timer", "ns"},
                  {"dispatch_ns", "ns"},
                  {"total_ns", "ns"}},
      .items_metric = "timers",
      .size_param = "n",
      .latency = "each timer's lateness: its callback time minus its deadline on the loop clock",
      .latency_is_lateness = true,
      // The first is libuv's million_timers; the second has every deadline
      // already due, so it measures scheduling and dispatch without waiting.
      .bench_sets = {{{"n=1000000", "spread=1s"}}, {{"n=100000", "spread=0s"}}},
      .repeatability =
          [](const Params& params) {
            return params.duration("spread") == std::chrono::nanoseconds(0)
                       ? Repeatability::exact
                       : Repeatability::on_virtual_time_only;
          },
      .endless = {"n=100", "spread=1h"},
  };
}

}  // namespace scenarios::detail
