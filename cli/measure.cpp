#include "measure.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>

#include "loops/loops.hpp"
#include "reports/stats.hpp"
#include "scenarios/units.hpp"

namespace cli {

namespace {

std::vector<double> as_doubles(const std::vector<std::int64_t>& values) {
  return {values.begin(), values.end()};
}

// The medians of every metric over the counted runs, by name.
std::map<std::string, double> metric_medians(const Measurement& m) {
  std::map<std::string, std::vector<double>> values;
  for (const auto& run : m.metrics) {
    for (const auto& [name, value] : run) values[name].push_back(value);
  }
  std::map<std::string, double> medians;
  for (const auto& [name, series] : values) medians[name] = reports::median(series);
  return medians;
}

}  // namespace

Spread spread_of(std::vector<double> values) {
  if (values.empty()) return {};
  Spread spread;
  spread.median = reports::median(values);
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  spread.min = *low;
  spread.max = *high;
  for (double& value : values) value = std::fabs(value - spread.median);
  spread.mad = reports::median(values);
  return spread;
}

Measurement measure(const scenarios::Scenario& scenario, const std::string& backend,
                    const scenarios::Params& params, std::size_t warmup_runs,
                    std::size_t repetitions) {
  Measurement m;
  m.backend = backend;
  m.warmup_runs = warmup_runs;
  std::unique_ptr<loops::EventLoop> loop;
  try {
    loop = loops::make_loop(backend);
  } catch (const std::exception& e) {
    // A backend that fails at start-up.
    m.last.scenario = scenario.name;
    m.last.backend = backend;
    m.last.params = params;
    m.last.status = scenarios::Status::error;
    m.last.error = e.what();
    m.failed_in = "making the loop";
    return m;
  }
  m.real_time = loop->backend().traits().real_time;
  for (std::size_t run = 0; run < warmup_runs + repetitions; ++run) {
    m.last = scenarios::run(scenario, *loop, params);
    if (!m.last.ok()) {
      m.failed_in = run < warmup_runs ? "warm-up run " + std::to_string(run + 1) + " of " +
                                            std::to_string(warmup_runs)
                                      : "run " + std::to_string(run - warmup_runs + 1) + " of " +
                                            std::to_string(repetitions);
      break;
    }
    if (run < warmup_runs) continue;
    m.wall_ns.push_back(m.last.wall_ns);
    m.metrics.push_back(m.last.metrics);
    m.latency_ns.insert(m.latency_ns.end(), m.last.latency_ns.begin(), m.last.latency_ns.end());
  }
  loop->close();
  return m;
}

std::string to_text(const scenarios::Scenario& scenario, const Measurement& m, bool trace) {
  std::string out = m.backend + (m.real_time ? "" : " (virtual time)") + ": ";
  if (!m.ok()) {
    out += std::string(scenarios::to_string(m.last.status)) + " in " + m.failed_in + ": " +
           m.last.error + "\n";
  } else {
    out += std::to_string(m.wall_ns.size()) + (m.wall_ns.size() == 1 ? " run" : " runs") +
           " after " + std::to_string(m.warmup_runs) + " warm-up" +
           (m.warmup_runs == 1 ? "" : "s") + "\n";
    const Spread time = spread_of(as_doubles(m.wall_ns));
    out += "  time per run  " + scenarios::format_ns(time.median) + " ± " +
           scenarios::format_ns(time.mad) + " (median ± MAD), range " +
           scenarios::format_ns(time.min) + " … " + scenarios::format_ns(time.max) + "\n";
    const auto medians = metric_medians(m);
    if (!medians.empty()) {
      out += "  metrics      ";
      const char* separator = " ";
      for (const auto& [name, value] : medians) {
        const std::string* unit = scenario.unit_of(name);
        out += separator + name + " " + scenarios::format_quantity(value, unit ? *unit : "");
        separator = ", ";
      }
      out += m.wall_ns.size() > 1 ? " (medians)\n" : "\n";
    }
    if (!m.latency_ns.empty()) {
      out +=
          "  latency       " + scenarios::format_latency(scenarios::summarize(m.latency_ns)) + "\n";
      if (!scenario.latency.empty()) out += "                (" + scenario.latency + ")\n";
    }
  }
  if (trace || !m.ok()) {
    out += "  trace" + std::string(m.last.trace.empty() ? ": (empty)" : "") + "\n";
    for (const auto& event : m.last.trace) out += "    " + event + "\n";
  }
  return out;
}

std::string comparison_text(const std::vector<Measurement>& measurements) {
  struct Timed {
    const Measurement* measurement;
    Spread time;
  };
  std::vector<Timed> timed;
  for (const auto& m : measurements) {
    if (m.ok() && m.real_time && !m.wall_ns.empty()) {
      timed.push_back({&m, spread_of(as_doubles(m.wall_ns))});
    }
  }
  if (timed.size() < 2) return "";
  std::stable_sort(timed.begin(), timed.end(),
                   [](const Timed& a, const Timed& b) { return a.time.median < b.time.median; });
  const Timed& fastest = timed.front();
  const auto relative_mad = [](const Spread& s) { return s.median > 0 ? s.mad / s.median : 0.0; };
  std::string out = "Summary (median time per run)\n  " + fastest.measurement->backend + " ran\n";
  for (std::size_t i = 1; i < timed.size(); ++i) {
    const double ratio = fastest.time.median > 0 ? timed[i].time.median / fastest.time.median : 0;
    const double uncertainty =
        ratio * std::hypot(relative_mad(fastest.time), relative_mad(timed[i].time));
    char line[160];
    std::snprintf(line, sizeof line, "    %.2f ± %.2f times faster than %s\n", ratio, uncertainty,
                  timed[i].measurement->backend.c_str());
    out += line;
  }
  return out;
}

std::string to_json_line(const Measurement& m) {
  nlohmann::ordered_json line = scenarios::to_json(m.last);
  line["warmup_runs"] = m.warmup_runs;
  nlohmann::ordered_json runs = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < m.wall_ns.size(); ++i) {
    runs.push_back(
        {{"wall_ns", m.wall_ns[i]}, {"metrics", scenarios::metrics_to_json(m.metrics[i])}});
  }
  line["runs"] = std::move(runs);
  const Spread time = spread_of(as_doubles(m.wall_ns));
  line["summary"] = {
      {"runs", m.wall_ns.size()},
      {"wall_ns",
       {{"median", time.median}, {"mad", time.mad}, {"min", time.min}, {"max", time.max}}},
      {"latency_ns", scenarios::to_json(scenarios::summarize(m.latency_ns))}};
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace cli
