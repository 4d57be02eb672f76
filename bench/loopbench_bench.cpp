// The Google Benchmark binary: every scenario on every available backend,
// plus the raw-library baselines (bench/baselines/), registered at run time.
//
// One benchmark iteration is one scenario run; its time is the run's own
// wall_ns (manual time), so setup and clean-up around the run are not
// counted. Runs are warm: each benchmark creates its loop once and runs the
// scenario once untimed before the timed iterations, so that the timed runs
// reuse memory (a page fault costs about 12 us on these machines, so a cold
// run measures the kernel). --loopbench_cold measures the other case.
//
//   loopbench_bench --benchmark_filter='^gather/' --benchmark_repetitions=5
//   loopbench_bench --benchmark_out=run.json --benchmark_out_format=json
//   loopbench_bench --loopbench_slowdown=callback_chain:0.10   (a known regression)
//   loopbench_bench --loopbench_small   (every count / 100: a smoke run under sanitizers)
#include <malloc.h>
#include <sys/utsname.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "baselines/baselines.hpp"
#include "bench_support.hpp"
#include "flag_check.hpp"
#include "loops/detail/small_alloc.hpp"
#include "loops/loops.hpp"
#include "scenarios/scenario.hpp"

namespace loopbench::bench {
namespace {

// A parameter set of one scenario, as `loopbench run --set` assignments.
struct ParamSet {
  std::vector<std::string> assignments;
  bool large = false;
};

std::vector<ParamSet> sleeps_sets() {
  std::vector<ParamSet> sets;
  for (const auto& p : kParallelSleeps) {
    sets.push_back(
        {{"n=" + std::to_string(p.n), "duration=" + scenarios::format_duration(p.duration)},
         p.large});
  }
  return sets;
}

std::vector<ParamSet> storm_sets() {
  std::vector<ParamSet> sets;
  for (const auto& p : kStorms) {
    sets.push_back(
        {{"n=" + std::to_string(p.n), "spread=" + scenarios::format_duration(p.spread)}});
  }
  return sets;
}

// The parameter sets per scenario. A scenario not listed here runs at its
// defaults, so a new scenario is benchmarked without touching this file.
std::vector<ParamSet> param_sets(const std::string& scenario) {
  if (scenario == "parallel_sleeps") {
    return sleeps_sets();
  }
  if (scenario == "timer_storm") {
    return storm_sets();
  }
  if (scenario == "gather") {
    // Flat is issue 4's target; the tree is pyperformance's async_tree size (6 x 6).
    return {{{"mode=flat", "n=100000"}}, {{"mode=tree", "depth=6", "branching=6"}}};
  }
  if (scenario == "callback_chain") {
    return {{{"n=" + std::to_string(kChainCallbacks)}}};
  }
  if (scenario == "producer_consumer") {
    // Throughput without a clock read per item (sample_every=0), then latency
    // on every item, then the seed's join_at strategy.
    return {{{"strategy=bounded", "k=10", "items=1000000", "sample_every=0"}},
            {{"strategy=bounded", "k=10", "items=100000", "sample_every=1"}},
            {{"strategy=join_at", "k=10", "items=100000", "sample_every=0"}}};
  }
  if (scenario == "stop_race") {
    // Short sleeps: each run yields one stop-to-return sample, so many runs.
    return {{{"variant=fixed", "sleep_a=1ms", "sleep_b=2ms"}}};
  }
  if (scenario == "threadsafe_pingpong") {
    return {{{"rounds=10000"}}};
  }
  if (scenario == "tcp_echo") {
    // The first is the raw epoll baseline's (issue 6: 64-byte round trips on
    // one connection); the second loads the loop with many connections.
    const EchoParams& p = kEchoes[0];
    return {{{"c=" + std::to_string(p.connections), "s=" + std::to_string(p.size),
              "m=" + std::to_string(p.round_trips)}},
            {{"c=100", "s=1024", "m=100"}}};
  }
  if (scenario == "fetch_many") {
    return {{{"n=100", "s=64"}}};
  }
  if (scenario == "sleep_precision") {
    return {{{"n=" + std::to_string(kSleepSeries.n),
              "duration=" + scenarios::format_duration(kSleepSeries.duration)}}};
  }
  return {{}};
}

// An assignment of a parameter set at `sizes`: the counts (n, items, rounds,
// m) divided as Sizes says, every other parameter as it is.
std::string sized(const std::string& assignment, const Sizes& sizes) {
  const auto eq = assignment.find('=');
  const std::string key = assignment.substr(0, eq);
  if (key != "n" && key != "items" && key != "rounds" && key != "m") {
    return assignment;
  }
  return key + "=" + std::to_string(sizes.count(std::stoll(assignment.substr(eq + 1))));
}

// Scenarios whose latency samples are lateness (resume time minus deadline):
// their negative samples are early wake-ups.
bool samples_are_lateness(const std::string& scenario) {
  return scenario == "parallel_sleeps" || scenario == "timer_storm" ||
         scenario == "sleep_precision";
}

// What items_per_s counts: the first of these metrics a result has.
double items_of(const scenarios::Result& result) {
  for (const char* name :
       {"tasks", "items", "timers", "round_trips", "requests", "callbacks", "sleeps"}) {
    if (const auto it = result.metrics.find(name); it != result.metrics.end()) {
      return it->second;
    }
  }
  return 0;
}

struct Options {
  bool cold = false;
  // --loopbench_small: every count divided by kSmallDivisor, for smoke runs
  // of every benchmark under the sanitizers.
  Sizes sizes;
  // --loopbench_slowdown=SCENARIO:FRACTION: every run of that scenario takes
  // FRACTION longer, by a busy wait inside the timed part, so that the
  // compare gate can be checked against a regression of known size.
  std::string slowed_scenario;
  double slowdown = 0;
};

struct Case {
  const scenarios::Scenario* scenario;
  std::string backend;
  scenarios::Params params;
  // parallel_sleeps: the sleep every task waits out, so that the loop's own
  // cost per task can be reported apart (overhead_ns_per_task).
  std::optional<std::int64_t> sleep_ns;
  bool cold;
  double slowdown;  // Extra busy time per run, as a fraction of its wall time.
};

// The loop of the benchmark that ran last, warmed up. Google Benchmark calls
// a benchmark function several times (to size its iteration count, and once
// per repetition); keeping the loop across those calls warms it up once.
struct WarmLoop {
  const Case* owner = nullptr;
  std::unique_ptr<loops::EventLoop> loop;
  std::string error;  // Why the warm-up run failed: the case cannot run here.

  // Also empties this thread's block cache: what the last case left there
  // (a million coroutine frames, say) would otherwise take the cap, and the
  // next case's blocks would go back to malloc (timer_storm 1M scheduled at
  // 16 ns per timer alone and at 62 ns after parallel_sleeps and gather).
  void release() {
    if (loop) {
      loop->close();
    }
    loop.reset();
    owner = nullptr;
    error.clear();
    loops::detail::small_alloc_release_cached();
  }
};
WarmLoop g_warm;

void add_result(Recorder& recorder, const Case& c, const scenarios::Result& result,
                std::int64_t cpu_ns, bool real_time) {
  const double items = items_of(result);
  std::map<std::string, double> metrics = result.metrics;
  // Only on a real clock: virtual time does not spend the sleep in wall time.
  if (c.sleep_ns && real_time && items > 0) {
    metrics["overhead_ns_per_task"] = static_cast<double>(result.wall_ns - *c.sleep_ns) / items;
  }
  recorder.add(result.wall_ns, cpu_ns, items, metrics, result.latency_ns);
}

// The deliberate slowdown: spins until `fraction` of the run's wall time has
// passed again, and returns how long it spun.
std::int64_t spin_for_fraction(std::int64_t wall_ns, double fraction) {
  const std::int64_t start = monotonic_ns();
  const auto until = start + static_cast<std::int64_t>(static_cast<double>(wall_ns) * fraction);
  std::int64_t now = start;
  while (now < until) {
    now = monotonic_ns();
  }
  return now - start;
}

bool record_or_skip(benchmark::State& state, Recorder& recorder, const Case& c,
                    scenarios::Result result, std::int64_t cpu_ns, loops::EventLoop& loop) {
  if (result.ok() && c.slowdown > 0) {
    result.wall_ns += spin_for_fraction(result.wall_ns, c.slowdown);
  }
  if (!result.ok()) {
    const std::string message =
        std::string(scenarios::to_string(result.status)) + ": " + result.error;
    state.SkipWithError(message.c_str());
    return false;
  }
  state.SetIterationTime(static_cast<double>(result.wall_ns) * 1e-9);
  add_result(recorder, c, result, cpu_ns, loop.backend().traits().real_time);
  return true;
}

void run_warm(benchmark::State& state, const Case& c) {
  if (g_warm.owner != &c) {
    g_warm.release();
    g_warm.owner = &c;
    g_warm.loop = loops::make_loop(c.backend);
    // The untimed warm-up: allocates what the timed runs will reuse, and
    // finds out whether this backend can run this case at all.
    const scenarios::Result warm_up = scenarios::run(*c.scenario, *g_warm.loop, c.params);
    if (!warm_up.ok()) {
      g_warm.error = std::string(scenarios::to_string(warm_up.status)) + ": " + warm_up.error;
    }
  }
  if (!g_warm.error.empty()) {
    state.SkipWithError(g_warm.error.c_str());
    return;
  }
  Recorder recorder(samples_are_lateness(c.scenario->name));
  reset_peak_rss();
  // Google Benchmark's loop idiom; `_` is unused by design.
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    const std::int64_t cpu_start = thread_cpu_ns();
    const scenarios::Result result = scenarios::run(*c.scenario, *g_warm.loop, c.params);
    if (!record_or_skip(state, recorder, c, result, thread_cpu_ns() - cpu_start, *g_warm.loop)) {
      break;
    }
  }
  recorder.publish(state);
}

// Every iteration on a new loop, with freed memory (the core's block cache
// too) first handed back to the kernel (malloc_trim), so that the run pays
// its page faults again.
void run_cold(benchmark::State& state, const Case& c) {
  g_warm.release();
  Recorder recorder(samples_are_lateness(c.scenario->name));
  reset_peak_rss();
  // Google Benchmark's loop idiom; `_` is unused by design.
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    loops::detail::small_alloc_release_cached();
    ::malloc_trim(0);
    const std::int64_t cpu_start = thread_cpu_ns();
    auto loop = loops::make_loop(c.backend);
    const scenarios::Result result = scenarios::run(*c.scenario, *loop, c.params);
    loop->close();
    if (!record_or_skip(state, recorder, c, result, thread_cpu_ns() - cpu_start, *loop)) {
      break;
    }
  }
  recorder.publish(state);
}

void run_case(benchmark::State& state, const Case& c) {
  if (c.cold) {
    run_cold(state, c);
  } else {
    run_warm(state, c);
  }
}

// Cases live here, at stable addresses, for the lambdas that run them.
std::deque<Case> g_cases;

// Each scenario's baselines are registered right after it, so that a
// scenario and its baseline run minutes apart at most, under similar load.
void register_all(const Options& options) {
  const std::vector<std::string> backends = loops::available_backend_names();
  for (const auto& entry : loops::registered_backends()) {
    if (auto reason = entry.unavailable_reason ? entry.unavailable_reason() : std::nullopt) {
      std::fprintf(stderr, "loopbench_bench: backend %s is unavailable: %s\n", entry.name.c_str(),
                   reason->c_str());
    }
  }
  for (const auto& scenario : scenarios::all()) {
    for (const ParamSet& full : param_sets(scenario.name)) {
      ParamSet set = full;
      for (auto& assignment : set.assignments) assignment = sized(assignment, options.sizes);
      const scenarios::Params params = scenario.parse(set.assignments);
      std::optional<std::int64_t> sleep_ns;
      if (scenario.name == "parallel_sleeps") {
        sleep_ns = params.duration("duration").count();
      }
      std::vector<std::pair<std::string, std::string>> shown;
      for (const auto& assignment : set.assignments) {
        const auto eq = assignment.find('=');
        shown.emplace_back(assignment.substr(0, eq), assignment.substr(eq + 1));
      }
      const std::string params_name = shown.empty() ? "defaults" : params_text(shown);
      for (const auto& backend : backends) {
        const Case& c = g_cases.emplace_back(
            Case{&scenario, backend, params, sleep_ns, options.cold,
                 scenario.name == options.slowed_scenario ? options.slowdown : 0.0});
        std::string name = scenario.name;
        name.append(1, '/').append(backend).append(1, '/').append(params_name);
        if (set.large) {
          name += "/large";
        }
        if (options.cold) {
          name += "/cold";
        }
        configure(benchmark::RegisterBenchmark(
            name.c_str(), [&c](benchmark::State& state) { run_case(state, c); }));
      }
    }
    register_baselines(scenario.name, options.sizes);
  }
}

// Warm runs must find the memory of the run before still in the process.
// glibc hands freed memory back to the kernel by default (it trims the top of
// the heap beyond M_TRIM_THRESHOLD and serves blocks above a dynamic
// M_MMAP_THRESHOLD with mmap, unmapped again on free), so that every run,
// warm-up or not, paid its page faults again: measured on gather flat 100k,
// about 2x the CPU time per task in the first benchmark of a process.
void keep_freed_memory() {
  ::mallopt(M_TRIM_THRESHOLD, -1);                // Never trim the heap.
  ::mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);  // glibc's maximum; fixed, not dynamic.
}

// Reads "SCENARIO:FRACTION" into `options`, or says why not (exit code 2).
void parse_slowdown(const std::string& value, Options& options) {
  const auto colon = value.find(':');
  const std::string scenario = value.substr(0, colon);
  if (colon == std::string::npos || scenarios::find(scenario) == nullptr) {
    std::fprintf(stderr,
                 "loopbench_bench: --loopbench_slowdown expects SCENARIO:FRACTION with a "
                 "scenario of: %s (got '%s')\n",
                 scenarios::names().c_str(), value.c_str());
    std::exit(2);
  }
  char* end = nullptr;
  const double fraction = std::strtod(value.c_str() + colon + 1, &end);
  if (end == value.c_str() + colon + 1 || *end != '\0' || !(fraction > 0 && fraction <= 10)) {
    std::fprintf(stderr,
                 "loopbench_bench: --loopbench_slowdown: the fraction must be a number in "
                 "(0, 10], e.g. 0.10 for 10%% (got '%s')\n",
                 value.c_str() + colon + 1);
    std::exit(2);
  }
  options.slowed_scenario = scenario;
  options.slowdown = fraction;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& name : names) {
    joined += (joined.empty() ? "" : ", ") + name;
  }
  return joined;
}

// What a report needs to judge the figures: how and where they were built.
void add_build_context() {
  benchmark::AddCustomContext("loopbench_build_type", LOOPBENCH_BUILD_TYPE);
  benchmark::AddCustomContext("loopbench_sanitizer", LOOPBENCH_SANITIZER_NAME);
  benchmark::AddCustomContext("compiler", LOOPBENCH_COMPILER);
  benchmark::AddCustomContext("libraries", LOOPBENCH_LIBRARY_VERSIONS);
  const std::vector<std::string> backends = loops::available_backend_names();
  benchmark::AddCustomContext("backends", join_names(backends));
  // Their times are virtual: a report must not rank them against real clocks.
  std::vector<std::string> virtual_time;
  for (const auto& name : backends) {
    auto loop = loops::make_loop(name);
    if (!loop->backend().traits().real_time) {
      virtual_time.push_back(name);
    }
    loop->close();
  }
  benchmark::AddCustomContext("virtual_time_backends", join_names(virtual_time));
  utsname system{};
  if (::uname(&system) == 0) {
    benchmark::AddCustomContext("kernel", std::string(system.sysname) + " " + system.release);
  }
}

// Takes our own flags out of argv before Google Benchmark sees it.
Options parse_own_flags(int* argc, char** argv) {
  static const std::string slowdown_flag = "--loopbench_slowdown=";
  Options options;
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strcmp(argv[i], "--loopbench_cold") == 0) {
      options.cold = true;
    } else if (std::strcmp(argv[i], "--loopbench_small") == 0) {
      options.sizes.divisor = kSmallDivisor;
    } else if (std::string(argv[i]).rfind(slowdown_flag, 0) == 0) {
      parse_slowdown(argv[i] + slowdown_flag.size(), options);
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  argv[kept] = nullptr;
  return options;
}

}  // namespace
}  // namespace loopbench::bench

int main(int argc, char** argv) {
  using namespace loopbench::bench;
  const Options options = parse_own_flags(&argc, argv);
  check_benchmark_flags(argc, argv);
  if (!options.cold) {
    keep_freed_memory();
  }
  benchmark::Initialize(&argc, argv);
  add_build_context();
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 2;
  }
  register_all(options);
  // Google Benchmark has said on stderr that the filter matched nothing.
  const bool ran = benchmark::RunSpecifiedBenchmarks() > 0;
  g_warm.release();
  benchmark::Shutdown();
  return ran ? 0 : 2;
}
