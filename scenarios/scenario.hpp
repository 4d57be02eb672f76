// Scenarios: programs written once against the loops interface and run on any
// backend. A scenario is a function `run(EventLoop&, const Params&) -> Result`
// plus a descriptor naming it and its knobs; the registry lists them all.
//
//   const scenarios::Scenario* s = scenarios::find("parallel_sleeps");
//   scenarios::Params params = s->defaults();
//   params.set("n", 1000);
//   params.set("duration", std::chrono::milliseconds(200));
//   scenarios::Result r = scenarios::run(*s, "epoll", params);
//   std::puts(scenarios::to_json_line(r).c_str());
//
// A run never hangs: every scenario has a `deadline` parameter, enforced by a
// loop timer; a run that would outlive it ends with Status::timeout and a trace
// that says what was still pending. The trace vocabulary is in README.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "loops/event_loop.hpp"

namespace scenarios {

// A bad parameter name or value. The message is one line that names the
// problem and the valid choices.
class ParamError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// One knob of a scenario: its type, default and allowed values.
struct ParamSpec {
  enum class Type { integer, duration, choice };

  std::string name;
  Type type = Type::integer;
  std::string help;
  // Integer and duration: the inclusive range (durations in nanoseconds) and
  // the default. Choice: unused.
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::int64_t default_number = 0;
  // Choice: the allowed values; the first one is the default.
  std::vector<std::string> choices;

  static ParamSpec integer(std::string name, std::string help, std::int64_t default_value,
                           std::int64_t min, std::int64_t max);
  static ParamSpec duration(std::string name, std::string help,
                            std::chrono::nanoseconds default_value, std::chrono::nanoseconds min,
                            std::chrono::nanoseconds max);
  static ParamSpec choice(std::string name, std::string help, std::vector<std::string> choices);

  // The default as `loopbench run --set` would spell it ("4", "200ms", "naive").
  std::string default_text() const;
  // What is allowed: "1..1000000", "0s..1h" or "naive|fixed".
  std::string allowed_text() const;
};

// Validated values for a list of ParamSpecs; starts at the defaults.
//
// Text forms: integers are decimal, optionally with a k (x1000) or M
// (x1000000) suffix; durations are a decimal number and a unit (ns, us, ms, s,
// min, h), e.g. 200ms or 1.5s; choices are one of the listed words.
class Params {
 public:
  Params() = default;
  explicit Params(std::vector<ParamSpec> specs);

  // Sets `name` from its text form. Throws ParamError for an unknown name or a
  // bad or out-of-range value.
  void set(std::string_view name, std::string_view value);
  // Sets from "name=value" (the CLI's --set). Throws ParamError.
  void assign(std::string_view assignment);
  // Typed setters, for programs (benchmarks). Throw ParamError like set().
  void set(std::string_view name, std::int64_t value);
  void set(std::string_view name, std::chrono::nanoseconds value);
  void set(std::string_view name, int value) { set(name, static_cast<std::int64_t>(value)); }
  void set(std::string_view name, const char* value) { set(name, std::string_view(value)); }

  // Typed getters. Asking for a name that is not there, or with the wrong
  // type, is a programming error: std::logic_error.
  std::int64_t integer(std::string_view name) const;
  std::chrono::nanoseconds duration(std::string_view name) const;
  const std::string& choice(std::string_view name) const;
  // The value in its canonical text form ("200ms", "4", "naive").
  std::string text(std::string_view name) const;

  const std::vector<ParamSpec>& specs() const noexcept { return specs_; }

 private:
  struct Value {
    std::int64_t number = 0;
    std::string word;
  };
  std::size_t index_of(std::string_view name) const;  // Throws ParamError.
  std::size_t typed_index(std::string_view name, ParamSpec::Type type) const;

  std::vector<ParamSpec> specs_;
  std::vector<Value> values_;
};

// Formats a duration the way Params reads it, in the largest exact unit
// ("1500ms", "1h", "0s").
std::string format_duration(std::chrono::nanoseconds d);

enum class Status { ok, timeout, error };
const char* to_string(Status status) noexcept;

// Exact order statistics of a sample set: nearest-rank percentiles (the
// smallest sample with at least p% of the samples at or below it), so every
// figure is one of the samples. All zero when count == 0.
struct LatencySummary {
  std::size_t count = 0;
  std::int64_t min = 0;
  std::int64_t p50 = 0;
  std::int64_t p90 = 0;
  std::int64_t p99 = 0;
  std::int64_t p999 = 0;
  std::int64_t max = 0;
};
LatencySummary summarize(std::vector<std::int64_t> samples);

// What one scenario run observed.
struct Result {
  // Filled by scenarios::run(); a scenario's own run function leaves them.
  std::string scenario;
  std::string backend;
  Params params;

  Status status = Status::ok;
  std::string error;  // Only when status != ok.
  // Wall-clock time of the measured part of the run (steady_clock).
  std::int64_t wall_ns = 0;
  // Scenario-specific figures (items_per_s, ns_per_task, ...), by name.
  std::map<std::string, double> metrics;
  // Latency samples in nanoseconds; what they measure is per scenario (README).
  std::vector<std::int64_t> latency_ns;
  // The observable events in the order they happened (README.md vocabulary).
  std::vector<std::string> trace;

  bool ok() const noexcept { return status == Status::ok; }
  LatencySummary latency() const { return summarize(latency_ns); }
};

// What a scenario needs from a backend beyond timers and callbacks.
struct Needs {
  bool threads = false;  // Wake-ups from other threads (BackendTraits::threads).
  bool io = false;       // Socket I/O (BackendTraits::io).
};

// One parameter set the benchmarks run, as `loopbench run --set` assignments.
struct BenchSet {
  std::vector<std::string> assignments{};  // Empty: the defaults.
  // Takes long or much memory: its benchmark names end in "/large".
  bool large = false;
  // The raw-library baselines of the scenario (bench/baselines/), where it
  // has some, run this set too.
  bool baselines = true;
};

// One figure of Result::metrics and its unit: "ns", "1/s", "MB/s", "B", or
// "" for a count, a ratio or a 0/1 flag.
struct Metric {
  std::string name;
  std::string unit;
};

// Whether a run executes the same instructions every time it runs, which
// bench's instruction mode (--loopbench_instructions) needs to count it.
enum class Repeatability {
  exact,
  // It waits for real time, and how often the loop wakes up depends on how
  // time passes; virtual time does not pass while code runs.
  on_virtual_time_only,
  // Other threads or the kernel's sockets decide what is ready when.
  never,
};

// A scenario: its name, a one-line description, its parameters (every
// scenario has `deadline`) and its run function; then what the benchmarks,
// the reports and the CPython oracle need to know about it, written once
// here (`loopbench list --json` exports all of it).
struct Scenario {
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;
  Result (*run)(loops::EventLoop& loop, const Params& params) = nullptr;
  // Checks combinations of parameters that each are valid alone (e.g. a tree
  // that would be too large); throws ParamError. May be null.
  void (*validate)(const Params& params) = nullptr;
  Needs needs{};

  // Every figure the run reports in Result::metrics.
  std::vector<Metric> metrics{};
  // The metric that counts the items of a run: items per second and the
  // per-item figures divide by it. Empty: the run has no items.
  std::string items_metric{};
  // The count parameter the run's size grows with: the x axis of the
  // report's scaling chart, and what smoke runs (--loopbench_small) divide.
  // Empty: none.
  std::string size_param{};
  // What one latency sample is, in one sentence. Empty: no samples.
  std::string latency{};
  // The samples are lateness (resume time minus deadline): a negative one is
  // an early wake-up, and the benchmarks count those.
  bool latency_is_lateness = false;
  // A duration parameter that every item waits out in full, so that wall
  // time minus it, per item, is the loop's own cost (the benchmarks'
  // overhead_ns_per_task, on a real clock). Empty: none.
  std::string sleep_param{};
  // The parameter sets the benchmarks run. Empty: the defaults only.
  std::vector<BenchSet> bench_sets{};
  // Whether a run's instruction count repeats; null: Repeatability::exact.
  Repeatability (*repeatability)(const Params& params) = nullptr;
  // Assignments under which a run outlasts any deadline: the test that every
  // scenario ends at its deadline uses them.
  std::vector<std::string> endless{};

  Params defaults() const { return Params(params); }
  // The defaults overridden by "name=value" assignments, then validated.
  // Throws ParamError.
  Params parse(const std::vector<std::string>& assignments) const;
  // bench_sets, or the defaults alone when there are none.
  std::vector<BenchSet> benchmark_sets() const;
  Repeatability repeats(const Params& values) const;
  // The unit of the metric `name` (see Metric); nullptr for a metric the
  // scenario does not report.
  const std::string* unit_of(std::string_view metric) const;
};

// Every scenario, in a fixed order.
const std::vector<Scenario>& all();
// The scenario named `name`, or nullptr.
const Scenario* find(std::string_view name);
// The scenario names joined with ", " (for error messages).
std::string names();

// Why `backend` cannot run `scenario` at all (it lacks what the scenario
// needs), or "" when it can. Such a combination is not a run that failed:
// the CLI skips it under --backend all.
std::string cannot_run(const Scenario& scenario, const loops::Backend& backend);

// Runs `scenario` on `loop` and stamps the scenario name, backend name and
// params into the result. An error escaping the scenario becomes
// Status::error, and so does a backend that cannot run it (cannot_run()). The loop is left reusable
// (no pending tasks or timers).
Result run(const Scenario& scenario, loops::EventLoop& loop, const Params& params);
// The same on a new loop of the named backend, closed afterwards. Throws
// std::invalid_argument / std::runtime_error from loops::make_loop for an
// unknown or unavailable backend.
Result run(const Scenario& scenario, std::string_view backend, const Params& params);

// Makes the allocator keep the memory it is given back, for the whole
// process: call it first in a program that runs scenarios (the bench calls
// it unless it measures cold runs). glibc otherwise serves buffers of 128 KiB
// and more with mmap (a socket's receive buffer is one) and trims its heap
// often, and each return is a TLB shootdown of the other cores: on a loaded
// 2-core VM, 2,000 connections of tcp_echo took 0.34-0.97 s after their run
// just to free their buffers (in 5 of 6 runs), and the page faults of fresh
// memory lengthen every batch. Retained memory makes both costs vanish, so a
// run's wall time and its deadline measure the loop.
void keep_freed_memory();

// The result as one JSON object on one line (DESIGN.md "Scenarios" format).
std::string to_json_line(const Result& result);
// The same as JSON, for a program that adds to it.
nlohmann::ordered_json to_json(const Result& result);
// Its metrics member: integral values as integers.
nlohmann::ordered_json metrics_to_json(const std::map<std::string, double>& metrics);
// Its latency_ns member: {count, p50, p90, p99, p999, max, min}, or {count: 0}.
nlohmann::ordered_json to_json(const LatencySummary& latency);

}  // namespace scenarios
