#include "baselines.hpp"

namespace loopbench::bench {

void register_baselines(const std::string& scenario) {
  register_epoll_baselines(scenario);
#ifdef LOOPBENCH_BENCH_HAS_ASIO
  register_asio_baselines(scenario);
#endif
#ifdef LOOPBENCH_BENCH_HAS_UV
  register_uv_baselines(scenario);
#endif
}

}  // namespace loopbench::bench
