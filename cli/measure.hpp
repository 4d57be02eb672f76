// What `loopbench run` measures and prints: a scenario run on one backend
// several times after uncounted warm-up runs, as a benchmarking tool does
// (hyperfine is the model), then summed up per backend (median, spread,
// range, pooled latency percentiles) and compared between backends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "scenarios/scenario.hpp"

namespace cli {

// The median, the median absolute deviation from it, and the range of a
// sample: the spread that one disturbed run barely moves. All zero for none.
struct Spread {
  double median = 0;
  double mad = 0;
  double min = 0;
  double max = 0;
};
Spread spread_of(std::vector<double> values);

// The runs of one scenario on one backend.
struct Measurement {
  std::string backend;
  // False on a virtual clock: then its times are not compared with others'.
  bool real_time = true;
  std::size_t warmup_runs = 0;  // Done before the counted runs, on the same loop.
  // The counted runs: each one's wall time and metrics, in order.
  std::vector<std::int64_t> wall_ns;
  std::vector<std::map<std::string, double>> metrics;
  // Every counted run's latency samples, pooled (as the benchmarks pool them).
  std::vector<std::int64_t> latency_ns;
  // The last run: the one that failed, if one did (the warm-up included),
  // else the last counted one. Its trace is the one shown.
  scenarios::Result last;
  // Where the failed run was, for people: "run 3 of 10", "warm-up run 1 of
  // 1" or "making the loop"; empty when every run ended ok.
  std::string failed_in;

  bool ok() const noexcept { return last.ok(); }
};

// Runs `scenario` with `params` on a new loop of `backend`: `warmup_runs`
// times uncounted, then `repetitions` times counted, all on that loop (as the
// benchmarks do, so that the counted runs reuse what the first run
// allocated). Stops at the first run that does not end ok; every run keeps
// its deadline. A loop that cannot be made is a failed run.
Measurement measure(const scenarios::Scenario& scenario, const std::string& backend,
                    const scenarios::Params& params, std::size_t warmup_runs,
                    std::size_t repetitions);

// The backend's block of the text summary: its runs' time per run as median
// ± MAD with the range, the metrics' medians and the pooled latency
// percentiles, each in a unit chosen for its value; for a failed run, the
// status and error. With `trace`, the last run's trace follows.
std::string to_text(const scenarios::Scenario& scenario, const Measurement& measurement,
                    bool trace);

// "uv ran 1.80 ± 0.05 times faster than asio": the fastest backend by median
// time per run against each other one that ran ok on a real clock (the ratio
// of the medians, its uncertainty from the two relative MADs added in
// quadrature); "" when fewer than two can be compared.
std::string comparison_text(const std::vector<Measurement>& measurements);

// The last run's JSON line (scenarios::to_json_line) plus `warmup_runs`,
// `runs` (each counted run's wall_ns and metrics) and `summary` (the counted
// runs' `wall_ns` spread and their pooled `latency_ns` percentiles).
std::string to_json_line(const Measurement& measurement);

}  // namespace cli
