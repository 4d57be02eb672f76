// The raw-library baselines: callback_chain, timer_storm, parallel_sleeps and
// tcp_echo written directly on Boost.Asio, libuv, libev, libevent and epoll +
// timerfd, and sleep_precision as bare timerfd waits, each a minimal but
// complete program on its library. They run the parameter sets of bench_support.hpp and report
// the counters our scenarios report, so that a scenario on backend X over its
// baseline on library X is the abstraction's overhead, measured in one run.
//
// Each baseline, like each scenario benchmark, is warm: its library context
// is created once per benchmark call and the work runs once untimed first.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "../bench_support.hpp"

namespace loopbench::bench {

// Registers the baselines of `scenario` on every library compiled in (asio,
// uv, libev and libevent when their libraries were found), at the scenario's parameter sets
// (those with BenchSet::baselines) and `sizes`; none for most scenarios.
void register_baselines(const scenarios::Scenario& scenario, const Sizes& sizes);

// The scenarios a library writes directly (null: not on this library),
// registered under baseline/<library>/<scenario>/<params> by register_baselines().
struct LibraryBaselines {
  const char* library;
  void (*callback_chain)(benchmark::State&, std::int64_t callbacks) = nullptr;
  void (*timer_storm)(benchmark::State&, StormParams) = nullptr;
  void (*parallel_sleeps)(benchmark::State&, SleepsParams) = nullptr;
  void (*tcp_echo)(benchmark::State&, EchoParams) = nullptr;
  void (*sleep_precision)(benchmark::State&, SleepsParams) = nullptr;
};

// One per library; defined in <library>_baselines.cpp.
LibraryBaselines epoll_baselines();
LibraryBaselines asio_baselines();
LibraryBaselines uv_baselines();
LibraryBaselines libev_baselines();
LibraryBaselines libevent_baselines();
// sleep_precision as bare blocking timerfd waits (epoll_baselines.cpp).
LibraryBaselines timerfd_baselines();

}  // namespace loopbench::bench
