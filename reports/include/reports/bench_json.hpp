// Reading Google Benchmark JSON files (as written by loopbench_bench with
// --benchmark_out_format=json, or by the Python reference runner) into the
// repetitions of each benchmark.
//
// Only the per-repetition entries ("run_type": "iteration") are read; the
// aggregates Google Benchmark appends (_mean, _median, ...) are recomputed
// from them where needed, so every statistic here sees the raw repetitions.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/input.hpp"

namespace reports {

// What produced a benchmark: one of our backends running a scenario, a
// raw-library baseline, or a Python event loop (the reference rows).
enum class Kind { scenario, baseline, python_reference };
const char* to_string(Kind kind) noexcept;

// One benchmark of one file with all its repetitions. Times are in
// nanoseconds whatever the file's time_unit.
struct Benchmark {
  std::string name;  // Google Benchmark's run_name, e.g. "gather/epoll/n=100/manual_time".
  // The parts of loopbench's naming scheme: "<scenario>/<backend>/<params>[/large|/cold]"
  // or "baseline/<library>/<scenario>/<params>". A name outside the scheme
  // keeps all of itself in `scenario`.
  std::string scenario;
  std::string implementation;  // The backend, the baseline's library or the Python loop.
  std::string params;          // "key=value,..." or "defaults".
  std::string variant;         // "", "large" or "cold".
  Kind kind = Kind::scenario;
  std::vector<double> real_ns;                          // One per repetition.
  std::vector<double> cpu_ns;                           // One per repetition.
  std::map<std::string, std::vector<double>> counters;  // Name -> one value per repetition.
  std::string error;                                    // Set when the run failed.

  // "<scenario>/<params>[/<variant>]": what the backends of one chart share.
  std::string case_name() const;
};

// One input file.
struct RunFile {
  std::string path;
  nlohmann::json context;  // Google Benchmark's context object, kept whole.
  bool python_reference = false;
  std::vector<Benchmark> benchmarks;  // In the file's order.
  // What the user named this run (`loopbench report --label`); empty: the
  // report names it (reports::run_labels).
  std::string label;

  // The machine the file was measured on (the context's host_name).
  std::string machine() const;
  // Whether `backend` runs on a virtual clock (the context's
  // virtual_time_backends): its times are not comparable with real ones.
  bool virtual_time(const std::string& backend) const;
};

// Reads and validates one file (read_json_file, then parse_run_file).
// Throws InputError naming the file and the first bad field.
RunFile load_run_file(const std::string& path);

// Validates the JSON text of a file named `path`. Besides the fields' types:
// times must be finite and >= 0 in a known unit; the context fields the
// report reads must have their types; the file must hold at least one
// benchmark, each with its repetitions (a file of aggregates only, written
// with --benchmark_report_aggregates_only=true, is refused: the statistics
// here need every repetition). Throws InputError.
RunFile parse_run_file(const std::string& path, const std::string& text);

// The value of `key` in a "key=value,..." parameter text, or "" when absent.
std::string param_value(const std::string& params, const std::string& key);

}  // namespace reports
