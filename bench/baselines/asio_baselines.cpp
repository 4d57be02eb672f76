// Baselines written directly on Boost.Asio: an io_context run by one thread
// (concurrency hint 1, Asio's own single-threaded setting, under which a post
// from the running thread takes no lock), post() for the callback chain,
// steady_timer::async_wait with a completion handler for the timer storm, and
// C++20 coroutines (co_spawn + use_awaitable) for parallel sleepers, since a
// sleeping task is what parallel_sleeps measures.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <vector>

#include "../bench_support.hpp"
#include "baselines.hpp"

namespace loopbench::bench {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;  // CLOCK_MONOTONIC on Linux.

std::int64_t since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - start).count();
}

// --- callback_chain ---------------------------------------------------------------------------

struct Chain {
  asio::io_context* io;
  std::int64_t remaining;
};

void chain_link(Chain* chain) {
  if (--chain->remaining == 0) {
    return;
  }
  asio::post(*chain->io, [chain] { chain_link(chain); });
}

void bm_callback_chain(benchmark::State& state, std::int64_t n) {
  asio::io_context io(1);
  run_baseline(state, false, [&] {
    io.restart();  // run() returned for lack of work last time.
    Chain chain{&io, n};
    const auto start = SteadyClock::now();
    asio::post(io, [&chain] { chain_link(&chain); });
    io.run();
    Outcome outcome;
    outcome.wall_ns = since(start);
    outcome.items = static_cast<double>(n);
    outcome.metrics = {{"callbacks", static_cast<double>(n)},
                       {"ns_per_callback", per_item(outcome.wall_ns, n)}};
    return outcome;
  });
}

// --- timer_storm ------------------------------------------------------------------------------

void bm_timer_storm(benchmark::State& state, StormParams params) {
  asio::io_context io(1);
  std::vector<asio::steady_timer> timers;
  std::vector<std::int64_t> lateness_ns;
  // Reserved once: the timers never move while they wait.
  timers.reserve(static_cast<std::size_t>(params.n));
  lateness_ns.reserve(static_cast<std::size_t>(params.n));
  run_baseline(state, true, [&] {
    io.restart();
    lateness_ns.clear();
    const auto start = SteadyClock::now();
    const auto base = SteadyClock::now();
    for (std::int64_t i = 0; i < params.n; ++i) {
      const std::int64_t step = i * kStormSteps / params.n + 1;
      const auto deadline = base + params.spread * step / kStormSteps;
      asio::steady_timer& timer = timers.emplace_back(io, deadline);
      timer.async_wait([&lateness_ns, deadline](const boost::system::error_code& error) {
        if (!error) {
          lateness_ns.push_back((SteadyClock::now() - deadline).count());
        }
      });
    }
    const std::int64_t schedule_ns = since(start);
    io.run();
    const std::int64_t total_ns = since(start);
    const auto teardown_start = SteadyClock::now();
    timers.clear();
    Outcome outcome;
    outcome.wall_ns = total_ns;
    outcome.items = static_cast<double>(params.n);
    outcome.metrics = {
        {"timers", static_cast<double>(params.n)},
        {"schedule_ns", static_cast<double>(schedule_ns)},
        {"schedule_ns_per_timer", per_item(schedule_ns, params.n)},
        {"dispatch_ns", static_cast<double>(total_ns - schedule_ns)},
        {"total_ns", static_cast<double>(total_ns)},
        {"teardown_ns", static_cast<double>(since(teardown_start))},
    };
    outcome.latency_ns = &lateness_ns;
    return outcome;
  });
}

// --- parallel_sleeps --------------------------------------------------------------------------

struct Sleepers {
  std::chrono::nanoseconds duration;
  std::vector<std::int64_t> overshoot_ns;
};

asio::awaitable<void> sleeper(Sleepers* sleepers) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto deadline = SteadyClock::now() + sleepers->duration;
  timer.expires_at(deadline);
  co_await timer.async_wait(asio::use_awaitable);
  sleepers->overshoot_ns.push_back((SteadyClock::now() - deadline).count());
}

void bm_parallel_sleeps(benchmark::State& state, SleepsParams params) {
  asio::io_context io(1);
  Sleepers sleepers{params.duration, {}};
  sleepers.overshoot_ns.reserve(static_cast<std::size_t>(params.n));
  run_baseline(state, true, [&] {
    io.restart();
    sleepers.overshoot_ns.clear();
    const auto start = SteadyClock::now();
    for (std::int64_t i = 0; i < params.n; ++i) {
      asio::co_spawn(io, sleeper(&sleepers), asio::detached);
    }
    io.run();
    Outcome outcome;
    outcome.wall_ns = since(start);
    outcome.items = static_cast<double>(params.n);
    outcome.metrics = {
        {"tasks", static_cast<double>(params.n)},
        {"overhead_ns_per_task", per_item(outcome.wall_ns - params.duration.count(), params.n)},
    };
    outcome.latency_ns = &sleepers.overshoot_ns;
    return outcome;
  });
}

}  // namespace

LibraryBaselines asio_baselines() {
  return {"asio", &bm_callback_chain, &bm_timer_storm, &bm_parallel_sleeps};
}

}  // namespace loopbench::bench
