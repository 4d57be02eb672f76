// Results: exact percentiles and the JSON line of DESIGN.md.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "scenarios/scenario.hpp"

namespace scenarios {

namespace {

// Nearest rank: the index of the sample at 1-based rank ceil(p/1000 * n) in
// sorted order, with p in tenths of a percent so that p99.9 is exact integer
// arithmetic.
std::size_t nearest_rank_index(std::size_t n, std::size_t per_mille) {
  const std::size_t rank = (per_mille * n + 999) / 1000;
  return rank == 0 ? 0 : rank - 1;
}

// Integral metrics print as integers (counts read better as 4 than 4.0).
nlohmann::ordered_json metric_value(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 9.0e15) {
    return static_cast<std::int64_t>(value);
  }
  return value;
}

}  // namespace

LatencySummary summarize(std::vector<std::int64_t> samples) {
  LatencySummary summary;
  summary.count = samples.size();
  if (samples.empty()) {
    return summary;
  }
  summary.min = *std::min_element(samples.begin(), samples.end());
  // Selection in rank order instead of a full sort: a hundred million samples
  // took seconds to sort, after the run's deadline. Each selection leaves
  // only larger samples after the one it places, where the next one looks.
  auto from = samples.begin();
  const auto select = [&](std::size_t per_mille) {
    const auto nth = samples.begin() +
                     static_cast<std::ptrdiff_t>(nearest_rank_index(samples.size(), per_mille));
    std::nth_element(from, nth, samples.end());
    from = nth;
    return *nth;
  };
  summary.p50 = select(500);
  summary.p90 = select(900);
  summary.p99 = select(990);
  summary.p999 = select(999);
  summary.max = *std::max_element(from, samples.end());
  return summary;
}

nlohmann::ordered_json metrics_to_json(const std::map<std::string, double>& metrics) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [name, value] : metrics) out[name] = metric_value(value);
  return out;
}

nlohmann::ordered_json to_json(const LatencySummary& latency) {
  nlohmann::ordered_json summary;
  summary["count"] = latency.count;
  if (latency.count > 0) {
    summary["p50"] = latency.p50;
    summary["p90"] = latency.p90;
    summary["p99"] = latency.p99;
    summary["p999"] = latency.p999;
    summary["max"] = latency.max;
    summary["min"] = latency.min;
  }
  return summary;
}

nlohmann::ordered_json to_json(const Result& result) {
  nlohmann::ordered_json line;
  line["scenario"] = result.scenario;
  line["backend"] = result.backend;
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  for (const auto& spec : result.params.specs()) {
    // Integers stay numbers; durations and choices keep their text form.
    if (spec.type == ParamSpec::Type::integer) {
      params[spec.name] = result.params.integer(spec.name);
    } else {
      params[spec.name] = result.params.text(spec.name);
    }
  }
  line["params"] = std::move(params);
  line["status"] = to_string(result.status);
  if (result.status != Status::ok) {
    line["error"] = result.error;
  }
  line["wall_ns"] = result.wall_ns;
  line["metrics"] = metrics_to_json(result.metrics);
  line["latency_ns"] = to_json(result.latency());
  line["trace"] = result.trace;
  return line;
}

std::string to_json_line(const Result& result) {
  // Replace invalid UTF-8 (an exception text could hold anything) instead of throwing.
  return to_json(result).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace scenarios
