// Baselines written directly on libuv: uv_idle_t for the callback chain
// (libuv has no call_soon; an idle handle started by one link runs the next
// link in the next loop iteration, which is how uvloop runs its ready queue),
// and one uv_timer_t per timer or sleeper, as libuv's own million_timers
// benchmark does.
//
// libuv's timers count whole milliseconds from uv_now(), which is cached per
// iteration and truncated, so these baselines can fire before the deadline
// measured on CLOCK_MONOTONIC (libuv#4773): their early_wakeups counter shows
// what our uv backend pays to never do that. Handles are closed after the
// timed part, as teardown_ns.
#include <uv.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "../bench_support.hpp"
#include "baselines.hpp"

namespace loopbench::bench {
namespace {

constexpr std::int64_t kNanosPerMilli = 1'000'000;

void check(int result, const char* what) {
  if (result < 0) {
    throw std::runtime_error(std::string(what) + ": " + uv_strerror(result));
  }
}

// Whole milliseconds, rounded up: never a shorter timeout than asked for.
std::uint64_t timeout_ms(std::int64_t ns) {
  return static_cast<std::uint64_t>((ns + kNanosPerMilli - 1) / kNanosPerMilli);
}

std::int64_t hrtime() {
  return static_cast<std::int64_t>(uv_hrtime());  // CLOCK_MONOTONIC.
}

// A uv_loop_t for one benchmark. Its destructor closes the handles still open
// (on any path out of the benchmark), so they must outlive it: declare them first.
class UvLoop {
 public:
  UvLoop() { check(uv_loop_init(&loop_), "uv_loop_init"); }
  ~UvLoop() {
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void*) {
          if (uv_is_closing(handle) == 0) {
            uv_close(handle, nullptr);
          }
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  UvLoop(const UvLoop&) = delete;
  UvLoop& operator=(const UvLoop&) = delete;
  uv_loop_t* get() noexcept { return &loop_; }

  // Closes every handle in `handles` and runs the loop until they are closed.
  template <class Handles, class Project>
  void close_all(Handles& handles, Project project) {
    for (auto& handle : handles) {
      uv_close(reinterpret_cast<uv_handle_t*>(project(handle)), nullptr);
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
  }

 private:
  uv_loop_t loop_{};
};

// --- callback_chain ---------------------------------------------------------------------------

struct Chain {
  uv_idle_t idle;
  std::int64_t remaining;
};

void chain_link(uv_idle_t* idle) {
  auto* chain = static_cast<Chain*>(idle->data);
  uv_idle_stop(idle);  // This link has run...
  if (--chain->remaining == 0) {
    return;
  }
  uv_idle_start(idle, &chain_link);  // ...and it schedules the next one.
}

void bm_callback_chain(benchmark::State& state, std::int64_t n) {
  Chain chain{};
  UvLoop loop;
  check(uv_idle_init(loop.get(), &chain.idle), "uv_idle_init");
  chain.idle.data = &chain;
  run_baseline(state, false, [&] {
    chain.remaining = n;
    const std::int64_t start = hrtime();
    check(uv_idle_start(&chain.idle, &chain_link), "uv_idle_start");
    uv_run(loop.get(), UV_RUN_DEFAULT);
    Outcome outcome;
    outcome.wall_ns = hrtime() - start;
    outcome.items = static_cast<double>(n);
    outcome.metrics = {{"callbacks", static_cast<double>(n)},
                       {"ns_per_callback", per_item(outcome.wall_ns, n)}};
    return outcome;
  });
}

// --- timer_storm ------------------------------------------------------------------------------

struct Storm {
  std::vector<uv_timer_t> timers;
  std::vector<std::int64_t> lateness_ns;
  std::int64_t base_ns = 0;
  StormParams params{};

  std::int64_t offset_ns(std::int64_t i) const {
    const std::int64_t step = i * kStormSteps / params.n + 1;
    return params.spread.count() * step / kStormSteps;
  }
};

void storm_fired(uv_timer_t* timer) {
  auto* storm = static_cast<Storm*>(timer->data);
  const std::int64_t index = timer - storm->timers.data();
  storm->lateness_ns.push_back(hrtime() - (storm->base_ns + storm->offset_ns(index)));
}

void bm_timer_storm(benchmark::State& state, StormParams params) {
  Storm storm;
  UvLoop loop;
  storm.params = params;
  storm.timers.resize(static_cast<std::size_t>(params.n));
  storm.lateness_ns.reserve(static_cast<std::size_t>(params.n));
  run_baseline(state, true, [&] {
    storm.lateness_ns.clear();
    const std::int64_t start = hrtime();
    uv_update_time(loop.get());  // Timeouts count from uv_now(): make it current.
    storm.base_ns = hrtime();
    for (std::int64_t i = 0; i < params.n; ++i) {
      uv_timer_t& timer = storm.timers[static_cast<std::size_t>(i)];
      check(uv_timer_init(loop.get(), &timer), "uv_timer_init");
      timer.data = &storm;
      check(uv_timer_start(&timer, &storm_fired, timeout_ms(storm.offset_ns(i)), 0),
            "uv_timer_start");
    }
    const std::int64_t scheduled = hrtime();
    uv_run(loop.get(), UV_RUN_DEFAULT);
    const std::int64_t done = hrtime();
    loop.close_all(storm.timers, [](uv_timer_t& timer) { return &timer; });
    Outcome outcome;
    outcome.wall_ns = done - start;
    outcome.items = static_cast<double>(params.n);
    outcome.metrics = {
        {"timers", static_cast<double>(params.n)},
        {"schedule_ns", static_cast<double>(scheduled - start)},
        {"schedule_ns_per_timer", per_item(scheduled - start, params.n)},
        {"dispatch_ns", static_cast<double>(done - scheduled)},
        {"total_ns", static_cast<double>(done - start)},
        {"teardown_ns", static_cast<double>(hrtime() - done)},
    };
    outcome.latency_ns = &storm.lateness_ns;
    return outcome;
  });
}

// --- parallel_sleeps --------------------------------------------------------------------------

struct Sleeper {
  uv_timer_t timer;
  std::int64_t deadline_ns;
  std::vector<std::int64_t>* overshoot_ns;
};

void sleeper_woke(uv_timer_t* timer) {
  auto* sleeper = static_cast<Sleeper*>(timer->data);
  sleeper->overshoot_ns->push_back(hrtime() - sleeper->deadline_ns);
}

void bm_parallel_sleeps(benchmark::State& state, SleepsParams params) {
  std::vector<Sleeper> sleepers(static_cast<std::size_t>(params.n));
  UvLoop loop;
  std::vector<std::int64_t> overshoot_ns;
  overshoot_ns.reserve(static_cast<std::size_t>(params.n));
  const std::uint64_t delay_ms = timeout_ms(params.duration.count());
  run_baseline(state, true, [&] {
    overshoot_ns.clear();
    const std::int64_t start = hrtime();
    uv_update_time(loop.get());
    for (Sleeper& sleeper : sleepers) {
      check(uv_timer_init(loop.get(), &sleeper.timer), "uv_timer_init");
      sleeper.timer.data = &sleeper;
      sleeper.overshoot_ns = &overshoot_ns;
      // Each sleeper takes its own deadline from the clock, as each task does.
      sleeper.deadline_ns = hrtime() + params.duration.count();
      check(uv_timer_start(&sleeper.timer, &sleeper_woke, delay_ms, 0), "uv_timer_start");
    }
    uv_run(loop.get(), UV_RUN_DEFAULT);
    const std::int64_t done = hrtime();
    loop.close_all(sleepers, [](Sleeper& sleeper) { return &sleeper.timer; });
    Outcome outcome;
    outcome.wall_ns = done - start;
    outcome.items = static_cast<double>(params.n);
    outcome.metrics = {
        {"tasks", static_cast<double>(params.n)},
        {"overhead_ns_per_task", per_item(outcome.wall_ns - params.duration.count(), params.n)},
        {"teardown_ns", static_cast<double>(hrtime() - done)},
    };
    outcome.latency_ns = &overshoot_ns;
    return outcome;
  });
}

}  // namespace

LibraryBaselines uv_baselines() {
  return {"uv", &bm_callback_chain, &bm_timer_storm, &bm_parallel_sleeps};
}

}  // namespace loopbench::bench
