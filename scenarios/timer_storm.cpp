// timer_storm: libuv's million_timers. n timers with deadlines spread over
// `spread` in 1000 equal steps (1000 timers per millisecond for the
// defaults), reported as three phases apart: schedule_ns (the n call_at
// calls), dispatch_ns (from the last call_at until the last timer fired; it
// includes waiting for the deadlines) and total_ns. Latency samples: each
// timer's lateness, its callback time minus its deadline on the loop clock.
#include "scenarios/detail/harness.hpp"

namespace scenarios::detail {

namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kDeadlineSteps = 1000;

struct Storm {
  loops::EventLoop* loop;
  Activity* timers;
  // Kept so that a run cut short by its deadline can cancel what is left.
  std::vector<loops::TimerHandle> handles{};
  std::vector<std::int64_t> lateness_ns{};
  loops::Future<void> all_fired;
  std::int64_t schedule_ns = 0;
  std::int64_t dispatch_ns = 0;
  std::int64_t total_ns = 0;
};

void on_timer(Storm* storm, loops::Nanos deadline) {
  storm->lateness_ns.push_back(storm->loop->now() - deadline);
  storm->timers->finished();
  if (storm->lateness_ns.size() == storm->handles.size()) {
    storm->all_fired.set_result();
  }
}

loops::Task<void> storm_main(Storm* storm, std::int64_t n, std::chrono::nanoseconds spread) {
  loops::EventLoop& loop = *storm->loop;
  const auto schedule_start = Clock::now();
  const loops::Nanos base = loop.now();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t step = i * kDeadlineSteps / n + 1;
    const loops::Nanos deadline = base + spread.count() * step / kDeadlineSteps;
    storm->handles.push_back(
        loop.call_at(deadline, [storm, deadline] { on_timer(storm, deadline); }));
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
  Storm storm{.loop = &loop,
              .timers = &tracker.group("timers", "", static_cast<std::size_t>(n), false),
              .all_fired = loop.create_future<void>()};
  // Reserved up front: growing these would be measured as scheduling or dispatch cost.
  storm.handles.reserve(static_cast<std::size_t>(n));
  storm.lateness_ns.reserve(static_cast<std::size_t>(n));
  run_to_completion(loop, params, tracker, storm_main(&storm, n, params.duration("spread")),
                    [&storm] {
                      for (auto& handle : storm.handles) {
                        handle.cancel();
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
      "timer_storm",
      "n timers with spread deadlines (libuv's million_timers); schedule, dispatch and total "
      "time apart",
      {
          ParamSpec::integer("n", "number of timers", 1'000'000, 1, 10'000'000),
          ParamSpec::duration("spread", "the last deadline; deadlines step up in 1000 equal steps",
                              1s, 0s, 1h),
      },
      &run_timer_storm,
  };
}

}  // namespace scenarios::detail
