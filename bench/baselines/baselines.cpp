#include "baselines.hpp"

#include <map>

namespace loopbench::bench {
namespace {

using Runner = std::function<void(benchmark::State&)>;

// A runner of `run` (a library's baseline, or null) at `params`.
template <class Params>
Runner bind(void (*run)(benchmark::State&, Params), Params params) {
  if (run == nullptr) return nullptr;
  return [run, params](benchmark::State& state) { run(state, params); };
}

SleepsParams sleeps_of(const scenarios::Params& params) {
  return {params.integer("n"), params.duration("duration")};
}

// How each scenario's baseline reads the scenario's parameters, by scenario
// name: a baseline is that scenario written again on one library.
using MakeRunner = Runner (*)(const LibraryBaselines& library, const scenarios::Params& params);
const std::map<std::string, MakeRunner>& runners() {
  static const std::map<std::string, MakeRunner> table = {
      {"callback_chain",
       [](const LibraryBaselines& library, const scenarios::Params& params) {
         return bind(library.callback_chain, params.integer("n"));
       }},
      {"timer_storm",
       [](const LibraryBaselines& library, const scenarios::Params& params) {
         return bind(library.timer_storm,
                     StormParams{params.integer("n"), params.duration("spread")});
       }},
      {"parallel_sleeps",
       [](const LibraryBaselines& library, const scenarios::Params& params) {
         return bind(library.parallel_sleeps, sleeps_of(params));
       }},
      {"sleep_precision",
       [](const LibraryBaselines& library, const scenarios::Params& params) {
         return bind(library.sleep_precision, sleeps_of(params));
       }},
      {"tcp_echo",
       [](const LibraryBaselines& library, const scenarios::Params& params) {
         return bind(library.tcp_echo,
                     EchoParams{params.integer("c"), params.integer("s"), params.integer("m")});
       }},
  };
  return table;
}

}  // namespace

void register_baselines(const scenarios::Scenario& scenario, const Sizes& sizes) {
  const auto make = runners().find(scenario.name);
  if (make == runners().end()) return;
  std::vector<LibraryBaselines> libraries = {epoll_baselines(), timerfd_baselines()};
#ifdef LOOPBENCH_BENCH_HAS_ASIO
  libraries.push_back(asio_baselines());
#endif
#ifdef LOOPBENCH_BENCH_HAS_UV
  libraries.push_back(uv_baselines());
#endif
#ifdef LOOPBENCH_BENCH_HAS_LIBEV
  libraries.push_back(libev_baselines());
#endif
#ifdef LOOPBENCH_BENCH_HAS_LIBEVENT
  libraries.push_back(libevent_baselines());
#endif
  for (const LibraryBaselines& library : libraries) {
    for (const BenchParams& params : bench_params(scenario, sizes)) {
      if (!params.baselines) continue;
      if (Runner run = make->second(library, params.values)) {
        register_baseline(
            baseline_name(library.library, scenario.name, params.text(), params.large),
            std::move(run));
      }
    }
  }
}

}  // namespace loopbench::bench
