// The raw-library baselines: callback_chain, timer_storm and parallel_sleeps
// written directly on Boost.Asio, libuv and epoll + timerfd, and
// sleep_precision as bare timerfd waits, each a minimal but complete program
// on its library. They run the parameter sets of bench_support.hpp and report
// the counters our scenarios report, so that a scenario on backend X over its
// baseline on library X is the abstraction's overhead, measured in one run.
//
// Each baseline, like each scenario benchmark, is warm: its library context
// is created once per benchmark call and the work runs once untimed first.
#pragma once

#include <string>

namespace loopbench::bench {

// Registers the baselines of `scenario` on every library compiled in (asio
// and uv when their libraries were found); none for most scenarios.
void register_baselines(const std::string& scenario);

// One per library; defined in <library>_baselines.cpp.
void register_epoll_baselines(const std::string& scenario);
void register_asio_baselines(const std::string& scenario);
void register_uv_baselines(const std::string& scenario);

}  // namespace loopbench::bench
