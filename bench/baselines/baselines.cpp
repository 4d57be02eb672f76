#include "baselines.hpp"

namespace loopbench::bench {
namespace {

void register_library(const LibraryBaselines& baselines, const std::string& scenario,
                      const Sizes& sizes) {
  const std::string library = baselines.library;
  if (scenario == "callback_chain") {
    const std::int64_t n = sizes.count(kChainCallbacks);
    register_baseline(
        baseline_name(library, "callback_chain", params_text({{"n", std::to_string(n)}}), false),
        [run = baselines.callback_chain, n](benchmark::State& state) { run(state, n); });
  }
  if (scenario == "timer_storm") {
    for (const StormParams& full : kStorms) {
      const StormParams p = sizes.storm(full);
      register_baseline(
          baseline_name(library, "timer_storm", storm_params(p), false),
          [run = baselines.timer_storm, p](benchmark::State& state) { run(state, p); });
    }
  }
  if (scenario == "parallel_sleeps") {
    for (const SleepsParams& full : kParallelSleeps) {
      const SleepsParams p = sizes.sleeps(full);
      register_baseline(
          baseline_name(library, "parallel_sleeps", sleeps_params(p), p.large),
          [run = baselines.parallel_sleeps, p](benchmark::State& state) { run(state, p); });
    }
  }
  if (scenario == "tcp_echo") {
    for (const EchoParams& full : kEchoes) {
      const EchoParams p = sizes.echo(full);
      register_baseline(baseline_name(library, "tcp_echo", echo_params(p), false),
                        [run = baselines.tcp_echo, p](benchmark::State& state) { run(state, p); });
    }
  }
}

}  // namespace

void register_baselines(const std::string& scenario, const Sizes& sizes) {
  register_library(epoll_baselines(), scenario, sizes);
  register_timerfd_baselines(scenario, sizes);
#ifdef LOOPBENCH_BENCH_HAS_ASIO
  register_library(asio_baselines(), scenario, sizes);
#endif
#ifdef LOOPBENCH_BENCH_HAS_UV
  register_library(uv_baselines(), scenario, sizes);
#endif
}

}  // namespace loopbench::bench
