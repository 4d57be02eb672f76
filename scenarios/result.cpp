// Results: exact percentiles, the JSON line of DESIGN.md and the text form.
#include <algorithm>
#include <cmath>
#include <cstdio>
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

std::string format_metric(double value) {
  char buffer[64];
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 9.0e15) {
    std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(value));
  } else {
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
  }
  return buffer;
}

std::string format_ms(std::int64_t ns) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3f ms", static_cast<double>(ns) * 1e-6);
  return buffer;
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

std::string to_json_line(const Result& result) {
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
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  for (const auto& [name, value] : result.metrics) {
    metrics[name] = metric_value(value);
  }
  line["metrics"] = std::move(metrics);
  const LatencySummary latency = result.latency();
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
  line["latency_ns"] = std::move(summary);
  line["trace"] = result.trace;
  // Replace invalid UTF-8 (an exception text could hold anything) instead of throwing.
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string to_text(const Result& result) {
  std::string out = result.scenario + " on " + result.backend + ": " + to_string(result.status);
  if (result.status != Status::ok) {
    out += " (" + result.error + ")";
  }
  out += ", wall " + format_ms(result.wall_ns) + "\n";
  out += "  params:";
  for (const auto& spec : result.params.specs()) {
    out += " " + spec.name + "=" + result.params.text(spec.name);
  }
  out += "\n";
  if (!result.metrics.empty()) {
    out += "  metrics:";
    for (const auto& [name, value] : result.metrics) {
      out += " " + name + "=" + format_metric(value);
    }
    out += "\n";
  }
  const LatencySummary latency = result.latency();
  if (latency.count > 0) {
    out += "  latency (ns): count=" + std::to_string(latency.count) +
           " min=" + std::to_string(latency.min) + " p50=" + std::to_string(latency.p50) +
           " p90=" + std::to_string(latency.p90) + " p99=" + std::to_string(latency.p99) +
           " p99.9=" + std::to_string(latency.p999) + " max=" + std::to_string(latency.max) + "\n";
  }
  out += "  trace:" + std::string(result.trace.empty() ? " (empty)" : "") + "\n";
  for (const auto& event : result.trace) {
    out += "    " + event + "\n";
  }
  return out;
}

}  // namespace scenarios
