// The scenario registry, and running one scenario on a loop or a backend.
// Adding a scenario means adding its file, which defines
// detail::<name>_scenario(), and its line in LOOPBENCH_SCENARIOS.
#include <malloc.h>

#include <exception>
#include <utility>

#include "scenarios/detail/harness.hpp"

// Every scenario, in the order `loopbench list` shows them.
#define LOOPBENCH_SCENARIOS(X) \
  X(parallel_sleeps)           \
  X(gather)                    \
  X(stop_race)                 \
  X(producer_consumer)         \
  X(timer_storm)               \
  X(threadsafe_pingpong)       \
  X(callback_chain)            \
  X(sleep_precision)           \
  X(tcp_echo)                  \
  X(fetch_many)

namespace scenarios {

namespace detail {
#define LOOPBENCH_DECLARE_SCENARIO(name) Scenario name##_scenario();
LOOPBENCH_SCENARIOS(LOOPBENCH_DECLARE_SCENARIO)
#undef LOOPBENCH_DECLARE_SCENARIO
}  // namespace detail

namespace {

using namespace std::chrono_literals;

// Every scenario has it: a run that would hang ends as a timeout instead.
ParamSpec deadline_param() {
  return ParamSpec::duration("deadline",
                             "the run ends with status timeout if it lasts longer (loop clock)",
                             30s, 1us, 24h);
}

}  // namespace

const std::vector<Scenario>& all() {
  static const std::vector<Scenario> scenarios = [] {
#define LOOPBENCH_LIST_SCENARIO(name) detail::name##_scenario(),
    std::vector<Scenario> list = {LOOPBENCH_SCENARIOS(LOOPBENCH_LIST_SCENARIO)};
#undef LOOPBENCH_LIST_SCENARIO
    for (auto& scenario : list) {
      scenario.params.push_back(deadline_param());
    }
    return list;
  }();
  return scenarios;
}

const Scenario* find(std::string_view name) {
  for (const auto& scenario : all()) {
    if (scenario.name == name) {
      return &scenario;
    }
  }
  return nullptr;
}

std::string names() {
  std::string out;
  for (const auto& scenario : all()) {
    if (!out.empty()) {
      out += ", ";
    }
    out += scenario.name;
  }
  return out;
}

std::string cannot_run(const Scenario& scenario, const loops::Backend& backend) {
  const loops::BackendTraits traits = backend.traits();
  if (scenario.needs.threads && !traits.threads) {
    return std::string("needs real threads: backend ") + backend.name() +
           " cannot be woken from another thread";
  }
  if (scenario.needs.io && !traits.io) {
    return std::string("backend ") + backend.name() + " has no socket I/O";
  }
  return "";
}

Result run(const Scenario& scenario, loops::EventLoop& loop, const Params& params) {
  Result result;
  if (std::string reason = cannot_run(scenario, loop.backend()); !reason.empty()) {
    result.status = Status::error;
    result.error = std::move(reason);
  } else {
    try {
      if (scenario.validate != nullptr) {
        scenario.validate(params);
      }
      result = scenario.run(loop, params);
    } catch (...) {
      result.status = Status::error;
      result.error = loops::describe_exception(std::current_exception());
    }
  }
  result.scenario = scenario.name;
  result.backend = loop.backend().name();
  result.params = params;
  return result;
}

void keep_freed_memory() {
  // Fixed values also turn off glibc's own adjustment of the two.
  ::mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);  // glibc's maximum
  ::mallopt(M_TRIM_THRESHOLD, -1);                // never trim the heap
}

Result run(const Scenario& scenario, std::string_view backend, const Params& params) {
  std::unique_ptr<loops::EventLoop> loop = loops::make_loop(backend);
  Result result = run(scenario, *loop, params);
  loop->close();
  return result;
}

}  // namespace scenarios
