#include "baselines.hpp"

namespace loopbench::bench {
namespace {

void register_library(const LibraryBaselines& baselines, const std::string& scenario) {
  const std::string library = baselines.library;
  if (scenario == "callback_chain") {
    register_baseline(
        baseline_name(library, "callback_chain",
                      params_text({{"n", std::to_string(kChainCallbacks)}}), false),
        [run = baselines.callback_chain](benchmark::State& state) { run(state, kChainCallbacks); });
  }
  if (scenario == "timer_storm") {
    for (const StormParams& p : kStorms) {
      register_baseline(
          baseline_name(library, "timer_storm", storm_params(p), false),
          [run = baselines.timer_storm, p](benchmark::State& state) { run(state, p); });
    }
  }
  if (scenario == "parallel_sleeps") {
    for (const SleepsParams& p : kParallelSleeps) {
      register_baseline(
          baseline_name(library, "parallel_sleeps", sleeps_params(p), p.large),
          [run = baselines.parallel_sleeps, p](benchmark::State& state) { run(state, p); });
    }
  }
  if (scenario == "tcp_echo") {
    for (const EchoParams& p : kEchoes) {
      register_baseline(baseline_name(library, "tcp_echo", echo_params(p), false),
                        [run = baselines.tcp_echo, p](benchmark::State& state) { run(state, p); });
    }
  }
}

}  // namespace

void register_baselines(const std::string& scenario) {
  register_library(epoll_baselines(), scenario);
  register_timerfd_baselines(scenario);
#ifdef LOOPBENCH_BENCH_HAS_ASIO
  register_library(asio_baselines(), scenario);
#endif
#ifdef LOOPBENCH_BENCH_HAS_UV
  register_library(uv_baselines(), scenario);
#endif
}

}  // namespace loopbench::bench
