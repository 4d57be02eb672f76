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
#include <stdexcept>
#include <string>
#include <vector>

namespace reports {

// Bad input: names the file and the field, in one line.
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, const std::string& problem)
      : std::runtime_error(file + ": " + problem) {}
};

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

  // The machine the file was measured on (the context's host_name).
  std::string machine() const;
  // Whether `backend` runs on a virtual clock (the context's
  // virtual_time_backends): its times are not comparable with real ones.
  bool virtual_time(const std::string& backend) const;
};

// Parses a JSON file as Google Benchmark writes them (bare NaN and Infinity
// read as null). Throws InputError when it cannot be read or parsed.
nlohmann::json read_json_file(const std::string& path);

// Reads and validates one file. Throws InputError naming the file and the
// first bad field.
RunFile load_run_file(const std::string& path);

// The value of `key` in a "key=value,..." parameter text, or "" when absent.
std::string param_value(const std::string& params, const std::string& key);

}  // namespace reports
