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
//   loopbench_bench --loopbench_extra_work=callback_chain/epoll:2   (a known count of them)
//   loopbench_bench --loopbench_instructions   (instruction counts under Callgrind)
#include <malloc.h>
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "baselines/baselines.hpp"
#include "bench_support.hpp"
#include "flag_check.hpp"
#include "instructions.hpp"
#include "loops/detail/small_alloc.hpp"
#include "loops/loops.hpp"
#include "scenarios/scenario.hpp"

namespace loopbench::bench {
namespace {

// What items_per_s counts: the scenario's items metric (Scenario::items_metric).
double items_of(const scenarios::Scenario& scenario, const scenarios::Result& result) {
  const auto it = result.metrics.find(scenario.items_metric);
  return it != result.metrics.end() ? it->second : 0;
}

// A regression of known size in the benchmarks of one scenario, or of one
// scenario on one backend: "SCENARIO[/BACKEND]:AMOUNT".
struct Injection {
  std::string scenario;
  std::string backend;  // Empty: every backend.
  double amount = 0;

  double on(const std::string& case_scenario, const std::string& case_backend) const {
    const bool hit = case_scenario == scenario && (backend.empty() || case_backend == backend);
    return hit ? amount : 0.0;
  }
};

struct Options {
  bool cold = false;
  // --loopbench_small: every count divided by kSmallDivisor, for smoke runs
  // of every benchmark under the sanitizers.
  Sizes sizes;
  // --loopbench_slowdown=TARGET:FRACTION: every run takes FRACTION more of
  // its own CPU time, spun on this thread's CPU clock inside the timed part,
  // so that the wall-time gate can be checked against a regression of known
  // size (waiting for a core is not work, so it does not count towards it).
  Injection slowdown;
  // --loopbench_extra_work=TARGET:STEPS: every run does STEPS steps of a
  // fixed computation per item more (see extra_work), a regression of a
  // known instruction count that repeats exactly under Callgrind.
  Injection extra_work;
  bool count_instructions = false;  // --loopbench_instructions
  std::string callgrind_out;        // --loopbench_callgrind_out (internal)
};

// The deadline of a counted run: long enough for Callgrind's pace.
constexpr std::chrono::nanoseconds kCountedDeadline = std::chrono::minutes(10);

struct Case {
  const scenarios::Scenario* scenario;
  std::string backend;
  scenarios::Params params;
  // The sleep every item waits out (Scenario::sleep_param), so that the
  // loop's own cost per item can be reported apart (overhead_ns_per_task).
  std::optional<std::int64_t> sleep_ns;
  bool cold;
  double slowdown;    // Extra CPU time per run, as a fraction of the run's own.
  double extra_work;  // Steps of extra_work() per item.
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
  const double items = items_of(*c.scenario, result);
  std::map<std::string, double> metrics = result.metrics;
  // Only on a real clock: virtual time does not spend the sleep in wall time.
  if (c.sleep_ns && real_time && items > 0) {
    metrics["overhead_ns_per_task"] = static_cast<double>(result.wall_ns - *c.sleep_ns) / items;
  }
  recorder.add(result.wall_ns, cpu_ns, items, metrics, result.latency_ns);
}

// The deliberate extra work: `steps` rounds of xorshift64, which the compiler
// can neither drop nor fold, so they execute the same instructions on every
// run.
void extra_work(std::int64_t steps) {
  std::uint64_t x = 0x9E3779B97F4A7C15u;
  for (std::int64_t i = 0; i < steps; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    benchmark::DoNotOptimize(x);
  }
}

// The deliberate slowdown: computes until this thread has used `fraction`
// of the run's CPU time again, and returns how much wall time that took. On
// a loaded machine the spin waits for the core as the run did, so the run
// takes `fraction` longer in wall time too, not more. Reading this thread's
// CPU clock is a system call (1.3 us on these VMs), and a spin made of them
// slowed the following run by 7%: the clock is read between rounds of
// about 20 us of arithmetic.
std::int64_t spin_for_fraction(std::int64_t cpu_ns, double fraction) {
  constexpr std::int64_t kStepsBetweenReads = 4096;
  const std::int64_t wall_start = monotonic_ns();
  const std::int64_t until =
      thread_cpu_ns() + static_cast<std::int64_t>(static_cast<double>(cpu_ns) * fraction);
  do {
    extra_work(kStepsBetweenReads);
  } while (thread_cpu_ns() < until);
  return monotonic_ns() - wall_start;
}

// One run of the case, with its injected extra work, counted by `count`.
scenarios::Result counted_run(const Case& c, loops::EventLoop& loop, InstructionCount& count) {
  count.start();
  scenarios::Result result = scenarios::run(*c.scenario, loop, c.params);
  if (result.ok() && c.extra_work > 0) {
    const std::int64_t start = monotonic_ns();
    extra_work(std::llround(c.extra_work * items_of(*c.scenario, result)));
    result.wall_ns += monotonic_ns() - start;
  }
  count.stop();
  return result;
}

bool record_or_skip(benchmark::State& state, Recorder& recorder, const Case& c,
                    scenarios::Result result, std::int64_t cpu_ns, loops::EventLoop& loop) {
  if (result.ok() && c.slowdown > 0) {
    result.wall_ns += spin_for_fraction(cpu_ns, c.slowdown);
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
  Recorder recorder(c.scenario->latency_is_lateness);
  InstructionCount count;
  reset_peak_rss();
  // Google Benchmark's loop idiom; `_` is unused by design.
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    const std::int64_t cpu_start = thread_cpu_ns();
    const scenarios::Result result = counted_run(c, *g_warm.loop, count);
    if (!record_or_skip(state, recorder, c, result, thread_cpu_ns() - cpu_start, *g_warm.loop)) {
      break;
    }
  }
  recorder.publish(state);
  count.publish(state);
}

// Every iteration on a new loop, with freed memory (the core's block cache
// too) first handed back to the kernel (malloc_trim), so that the run pays
// its page faults again.
void run_cold(benchmark::State& state, const Case& c) {
  g_warm.release();
  Recorder recorder(c.scenario->latency_is_lateness);
  InstructionCount not_counted;  // Cold runs measure the kernel: never counted.
  reset_peak_rss();
  // Google Benchmark's loop idiom; `_` is unused by design.
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    loops::detail::small_alloc_release_cached();
    ::malloc_trim(0);
    const std::int64_t cpu_start = thread_cpu_ns();
    auto loop = loops::make_loop(c.backend);
    const scenarios::Result result = counted_run(c, *loop, not_counted);
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
    for (BenchParams set : bench_params(scenario, options.sizes)) {
      scenarios::Params& params = set.values;
      if (counted_registration()) {
        // Callgrind runs the code about 50 times slower than the CPU.
        params.set("deadline", std::chrono::nanoseconds(kCountedDeadline));
      }
      std::optional<std::int64_t> sleep_ns;
      if (!scenario.sleep_param.empty()) {
        sleep_ns = params.duration(scenario.sleep_param).count();
      }
      const std::string params_name = set.text();
      for (const auto& backend : backends) {
        std::string name = scenario.name;
        name.append(1, '/').append(backend).append(1, '/').append(params_name);
        if (set.large) {
          name += "/large";
        }
        if (options.cold) {
          name += "/cold";
        }
        if (counted_registration() && !counts_repeat(name + "/manual_time")) {
          continue;
        }
        const Case& c =
            g_cases.emplace_back(Case{&scenario, backend, params, sleep_ns, options.cold,
                                      options.slowdown.on(scenario.name, backend),
                                      options.extra_work.on(scenario.name, backend)});
        configure(benchmark::RegisterBenchmark(
            name.c_str(), [&c](benchmark::State& state) { run_case(state, c); }));
      }
    }
    register_baselines(scenario, options.sizes);
  }
}

std::string join_names(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& name : names) {
    joined += (joined.empty() ? "" : ", ") + name;
  }
  return joined;
}

// Moves every later heap block by a random 0 to 64 KiB, in 16-byte steps.
// Where blocks fall within a page and a cache set decides how they collide
// (4K aliasing, conflict misses), and without this it is fixed by what the
// process allocated first: on the 2-core VM, a process given one more flag
// (which allocated a little earlier) ran callback_chain/epoll 8% faster, in
// 10 pairs of processes out of 10. Random per process, that luck is noise the
// test across processes sees, not a bias that no number of processes can
// remove. Not when counting instructions, which must repeat.
void shift_heap_randomly() {
  std::random_device random;
  static void* const shift =
      std::malloc(16 * std::uniform_int_distribution<std::size_t>(1, 4096)(random));
  benchmark::DoNotOptimize(shift);
}

// Reads "SCENARIO[/BACKEND]:AMOUNT" of `flag`, or says why not (exit code 2).
Injection parse_injection(const char* flag, const std::string& value, double max,
                          const char* amount_help) {
  const auto colon = value.find(':');
  const std::string target = value.substr(0, colon);
  const auto slash = target.find('/');
  Injection injection;
  injection.scenario = target.substr(0, slash);
  injection.backend = slash == std::string::npos ? "" : target.substr(slash + 1);
  // Looked up, not probed: probing the backends here would allocate before
  // the memory settings of main(), and give the process a heap laid out
  // unlike that of a process without the flag.
  std::vector<std::string> backends;
  for (const auto& entry : loops::registered_backends()) backends.push_back(entry.name);
  const bool known_backend =
      injection.backend.empty() ||
      std::find(backends.begin(), backends.end(), injection.backend) != backends.end();
  if (colon == std::string::npos || scenarios::find(injection.scenario) == nullptr ||
      !known_backend) {
    std::fprintf(stderr,
                 "loopbench_bench: %s expects SCENARIO[/BACKEND]:AMOUNT with a scenario of: %s "
                 "and a backend of: %s (got '%s')\n",
                 flag, scenarios::names().c_str(), join_names(backends).c_str(), value.c_str());
    std::exit(2);
  }
  char* end = nullptr;
  injection.amount = std::strtod(value.c_str() + colon + 1, &end);
  if (end == value.c_str() + colon + 1 || *end != '\0' ||
      !(injection.amount > 0 && injection.amount <= max)) {
    std::fprintf(stderr, "loopbench_bench: %s: %s (got '%s')\n", flag, amount_help,
                 value.c_str() + colon + 1);
    std::exit(2);
  }
  return injection;
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
  // What the figures are: times, or instruction counts (reports/README.md).
  if (counting_instructions()) {
    benchmark::AddCustomContext("loopbench_mode", "instructions");
    benchmark::AddCustomContext("loopbench_counted_runs", std::to_string(kCountedRuns));
  } else {
    benchmark::AddCustomContext("loopbench_mode", "time");
  }
  utsname system{};
  if (::uname(&system) == 0) {
    benchmark::AddCustomContext("kernel", std::string(system.sysname) + " " + system.release);
  }
}

// Takes our own flags out of argv before Google Benchmark sees it.
Options parse_own_flags(int* argc, char** argv) {
  static const std::string slowdown_flag = "--loopbench_slowdown=";
  static const std::string extra_work_flag = "--loopbench_extra_work=";
  static const std::string callgrind_out_flag = "--loopbench_callgrind_out=";
  Options options;
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--loopbench_cold") {
      options.cold = true;
    } else if (arg == "--loopbench_small") {
      options.sizes.divisor = kSmallDivisor;
    } else if (arg == "--loopbench_instructions") {
      options.count_instructions = true;
    } else if (arg.rfind(slowdown_flag, 0) == 0) {
      options.slowdown =
          parse_injection("--loopbench_slowdown", arg.substr(slowdown_flag.size()), 10,
                          "the fraction must be a number in (0, 10], e.g. 0.10 for 10%");
    } else if (arg.rfind(extra_work_flag, 0) == 0) {
      options.extra_work =
          parse_injection("--loopbench_extra_work", arg.substr(extra_work_flag.size()), 1000,
                          "the steps per item must be a number in (0, 1000], e.g. 2");
    } else if (arg.rfind(callgrind_out_flag, 0) == 0) {
      options.callgrind_out = arg.substr(callgrind_out_flag.size());
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  argv[kept] = nullptr;
  const bool counted = options.count_instructions || !options.callgrind_out.empty();
  if (counted && (options.cold || options.slowdown.amount > 0)) {
    std::fprintf(stderr,
                 "loopbench_bench: --loopbench_instructions counts warm runs only, and a "
                 "--loopbench_slowdown spin would count differently on every run: use "
                 "--loopbench_extra_work\n");
    std::exit(2);
  }
  return options;
}

// The benchmarks Google Benchmark would run (its filter applied), by name.
std::vector<std::string> selected_benchmarks() {
  std::ostringstream listing;
  benchmark::ConsoleReporter reporter;
  reporter.SetOutputStream(&listing);
  reporter.SetErrorStream(&listing);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::vector<std::string> names;
  std::istringstream lines(listing.str());
  for (std::string name; std::getline(lines, name);) {
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

}  // namespace
}  // namespace loopbench::bench

int main(int argc, char** argv) {
  using namespace loopbench::bench;
  const std::vector<std::string> args(argv, argv + argc);
  const Options options = parse_own_flags(&argc, argv);
  check_benchmark_flags(argc, argv);
  // --loopbench_instructions: this process only lists the counted benchmarks
  // and runs each under Callgrind (unless the list is all that was asked for).
  const bool list_only =
      std::find(args.begin(), args.end(), "--benchmark_list_tests") != args.end() ||
      std::find(args.begin(), args.end(), "--benchmark_list_tests=true") != args.end();
  const bool launch = options.count_instructions && !list_only;
  std::vector<char*> flags(argv, argv + argc);
  char list_flag[] = "--benchmark_list_tests=true";
  if (launch) flags.push_back(list_flag);
  int flag_count = static_cast<int>(flags.size());
  flags.push_back(nullptr);
  if (options.count_instructions) {
    register_counted_benchmarks_only();
  }
  if (!options.callgrind_out.empty()) {
    count_instructions(options.callgrind_out);
  }
  // Warm runs find the memory of the run before still in the process: with
  // glibc's defaults every run, warm-up or not, paid its page faults again
  // (about 2x the CPU time per task in the first benchmark of a process, on
  // gather flat 100k). Cold runs keep those defaults, on purpose.
  if (!options.cold) {
    scenarios::keep_freed_memory();
  }
  if (!counted_registration()) {
    shift_heap_randomly();
  }
  // Scenario runs take milliseconds. Set before Initialize(), which replaces
  // it with --benchmark_time_unit (ns, us, ms or s) when that is given, and
  // compare.py's tables follow the unit of the JSON.
  benchmark::SetDefaultTimeUnit(benchmark::kMillisecond);
  benchmark::Initialize(&flag_count, flags.data());
  if (benchmark::ReportUnrecognizedArguments(flag_count, flags.data())) {
    return 2;
  }
  register_all(options);
  if (launch) {
    return run_under_callgrind(args, selected_benchmarks());
  }
  add_build_context();
  // Google Benchmark has said on stderr when the filter matched nothing.
  std::size_t ran = 0;
  if (counting_instructions()) {
    CountReporter reporter;
    ran = benchmark::RunSpecifiedBenchmarks(&reporter);
  } else {
    ran = benchmark::RunSpecifiedBenchmarks();
  }
  g_warm.release();
  benchmark::Shutdown();
  return ran > 0 ? 0 : 2;
}
