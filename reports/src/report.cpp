#include "reports/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "reports/stats.hpp"

namespace reports {

namespace {

std::string number(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

std::string file_stem(const std::string& path) {
  return std::filesystem::path(path).stem();
}

// The units of what the bench adds to every benchmark's metrics: its times,
// its counters (bench/README.md, "Counters") and the baselines' own figures.
const std::map<std::string, std::string>& bench_units() {
  static const std::map<std::string, std::string> units = {
      {"real_time", "ns"},     {"cpu_time", "ns"},
      {"items_per_s", "1/s"},  {"cpu_ns_per_item", "ns"},
      {"samples", ""},         {"min_ns", "ns"},
      {"p50_ns", "ns"},        {"p90_ns", "ns"},
      {"p99_ns", "ns"},        {"p999_ns", "ns"},
      {"max_ns", "ns"},        {"early_wakeups", ""},
      {"peak_rss_mb", "MB"},   {"overhead_ns_per_task", "ns"},
      {"teardown_ns", "ns"},   {"instructions", ""},
      {"estimated_cycles", ""}};
  return units;
}

// A metric's unit: the bench's, else what its scenario declares; "" for a
// count or a figure nobody declared.
std::string unit_of(const std::string& metric, const std::string& scenario,
                    const ScenarioCatalogue& scenarios) {
  if (const auto it = bench_units().find(metric); it != bench_units().end()) return it->second;
  if (const auto facts = scenarios.find(scenario); facts != scenarios.end()) {
    if (const auto it = facts->second.units.find(metric); it != facts->second.units.end()) {
      return it->second;
    }
  }
  return "";
}

// Each benchmark's median time over the fastest median of its case (the
// page's ratio), for the benchmarks that ran; defined with the page's cases.
std::map<const Benchmark*, double> ratios_to_best(const std::vector<RunFile>& runs,
                                                  const ScenarioCatalogue& scenarios);

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    quoted += c;
    if (c == '"') quoted += '"';
  }
  return quoted + "\"";
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Inline <script> content must not close the element early: "</script"
// becomes "<\/script", which means the same inside JS strings and regular
// expressions.
std::string script_safe(const std::string& code) {
  std::string out;
  out.reserve(code.size());
  for (std::size_t i = 0; i < code.size(); ++i) {
    out += code[i];
    if (code[i] == '<' && code.compare(i + 1, 7, "/script") == 0) {
      out += '\\';
    }
  }
  return out;
}

// JSON text of `value`. Strings that are not UTF-8 (the names of input files
// may be any bytes) get U+FFFD where nlohmann would throw.
std::string as_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// JSON inside a <script> element: "<" as \u003c cannot end it and stays valid JSON.
std::string json_safe(const std::string& json) {
  std::string out;
  for (char c : json) out += c == '<' ? std::string("\\u003c") : std::string(1, c);
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError(path.string(),
                     "cannot read the page asset (run scripts/install-deps.sh to install it)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// How one implementation appears in tables and legends: the backend, a
// baseline's library, or a Python loop. The run it belongs to is shown
// beside it (a column, a facet, a dash), never in it.
std::string implementation_label(const Benchmark& b, const RunFile& run) {
  switch (b.kind) {
    case Kind::scenario:
      return b.implementation + (run.virtual_time(b.implementation) ? " (virtual time)" : "");
    case Kind::baseline:
      return "raw " + b.implementation;
    case Kind::python_reference:
      return b.implementation + " (Python reference)";
  }
  return b.implementation;
}

// The default name of a run: its machine and when it ran, to the minute.
std::string default_label(const RunFile& run) {
  std::string date = run.context.value("date", "");
  if (date.size() >= 16) date = date.substr(0, 10) + " " + date.substr(11, 5);
  std::string label = run.machine().empty() ? file_stem(run.path) : run.machine();
  return date.empty() ? label : label + " " + date;
}

// The column of the page each run's figures go into: one per measured run.
// A Python reference file joins the run measured on its machine that is
// closest before it (run-all measures them one after the other), else the
// first of its machine, else the first run; with no measured run at all it
// has its own.
std::vector<std::size_t> run_columns(const std::vector<RunFile>& runs) {
  std::vector<std::size_t> column(runs.size());
  std::vector<std::size_t> measured;  // Run index of each column.
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].python_reference) continue;
    column[i] = measured.size();
    measured.push_back(i);
  }
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].python_reference) continue;
    const std::string date = runs[i].context.value("date", "");
    std::optional<std::size_t> same_machine;
    std::optional<std::size_t> before;
    for (std::size_t c = 0; c < measured.size(); ++c) {
      const RunFile& run = runs[measured[c]];
      if (run.machine() != runs[i].machine()) continue;
      if (!same_machine) same_machine = c;
      const std::string measured_date = run.context.value("date", "");
      if (measured_date <= date &&
          (!before || measured_date >= runs[measured[*before]].context.value("date", ""))) {
        before = c;
      }
    }
    if (before) {
      column[i] = *before;
    } else if (same_machine) {
      column[i] = *same_machine;
    } else if (!measured.empty()) {
      column[i] = 0;
    } else {
      column[i] = i;  // Python files only: each is its own column, in order.
    }
  }
  return column;
}

// The size a case ran at, for the scaling chart: the value of its scenario's
// size parameter; 0 for none.
double size_of(const Benchmark& b, const ScenarioCatalogue& scenarios) {
  const auto facts = scenarios.find(b.scenario);
  if (facts == scenarios.end() || facts->second.size_param.empty()) return 0;
  const std::string value = param_value(b.params, facts->second.size_param);
  return value.empty() ? 0 : std::strtod(value.c_str(), nullptr);
}

const char* const kPercentiles[][2] = {{"p50", "p50_ns"},
                                       {"p90", "p90_ns"},
                                       {"p99", "p99_ns"},
                                       {"p99.9", "p999_ns"},
                                       {"max", "max_ns"}};

// Whether other work had the cores when the run started: Google Benchmark
// records the load average then; more runnable processes than CPUs means
// the benchmarks waited for a core, and their times include the waits.
std::optional<std::string> busy_machine(const nlohmann::json& context) {
  const auto load = context.find("load_avg");
  const auto cpus = context.find("num_cpus");
  if (load == context.end() || cpus == context.end() || load->empty()) return std::nullopt;
  const double one_minute = load->front().get<double>();
  const double cores = cpus->get<double>();
  if (one_minute <= cores) return std::nullopt;
  char text[160];
  std::snprintf(text, sizeof text,
                "the load average was %.1f on %.0f CPUs when the run started: other work "
                "shared the cores, expect noise",
                one_minute, cores);
  return text;
}

}  // namespace

const char* const csv_header =
    "run,machine,file,kind,scenario,implementation,params,variant,metric,unit,median,min,max,"
    "spread_pct,repetitions,error,ratio_to_best";

std::vector<std::string> run_labels(const std::vector<RunFile>& runs) {
  std::vector<std::string> labels;
  for (const auto& run : runs) labels.push_back(run.label.empty() ? default_label(run) : run.label);
  const auto collides = [&labels](std::size_t i) {
    return std::count(labels.begin(), labels.end(), labels[i]) > 1;
  };
  std::vector<bool> add_file(runs.size());
  for (std::size_t i = 0; i < runs.size(); ++i) add_file[i] = runs[i].label.empty() && collides(i);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (add_file[i]) labels[i] += " (" + file_stem(runs[i].path) + ")";
  }
  // Files of one name in different folders, or labels given twice: numbered.
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (!collides(i)) continue;
    const std::string shared = labels[i];
    int number = 1;
    for (std::size_t j = i; j < runs.size(); ++j) {
      if (labels[j] == shared) labels[j] = shared + " #" + std::to_string(number++);
    }
  }
  return labels;
}

ScenarioCatalogue parse_scenario_facts(const nlohmann::json& scenarios) {
  ScenarioCatalogue catalogue;
  for (const auto& scenario : scenarios) {
    ScenarioFacts& facts = catalogue[scenario.at("name").get<std::string>()];
    if (scenario.at("size_param").is_string()) facts.size_param = scenario["size_param"];
    facts.description = scenario.value("description", "");
    if (const auto latency = scenario.find("latency");
        latency != scenario.end() && latency->is_string()) {
      facts.latency = latency->get<std::string>();
    }
    for (const auto& metric : scenario.at("metrics")) {
      facts.units[metric.at("name").get<std::string>()] = metric.at("unit").get<std::string>();
    }
  }
  return catalogue;
}

std::string make_csv(const std::vector<RunFile>& runs, const ScenarioCatalogue& scenarios) {
  const std::map<const Benchmark*, double> ratios = ratios_to_best(runs, scenarios);
  const std::vector<std::string> labels = run_labels(runs);
  std::string out = std::string(csv_header) + "\n";
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const RunFile& run = runs[r];
    for (const auto& b : run.benchmarks) {
      const std::string prefix = csv_field(labels[r]) + "," + csv_field(run.machine()) + "," +
                                 csv_field(file_stem(run.path)) + "," + to_string(b.kind) + "," +
                                 csv_field(b.scenario) + "," + csv_field(b.implementation) + "," +
                                 csv_field(b.params) + "," + csv_field(b.variant) + ",";
      if (b.real_ns.empty()) {
        out += prefix + "error,,,,,,0," + csv_field(b.error) + ",\n";
        continue;
      }
      std::vector<std::pair<std::string, const std::vector<double>*>> metrics = {
          {"real_time", &b.real_ns}, {"cpu_time", &b.cpu_ns}};
      for (const auto& [name, values] : b.counters) metrics.emplace_back(name, &values);
      for (const auto& [name, values] : metrics) {
        const double mid = median(*values);
        const auto [low, high] = std::minmax_element(values->begin(), values->end());
        const std::string spread = mid != 0 ? number((*high - *low) / mid * 100) : "";
        // The ratio belongs to the time the page ranks by: the real_time row.
        const auto ratio = ratios.find(&b);
        const std::string ratio_text =
            name == "real_time" && ratio != ratios.end() ? number(ratio->second) : "";
        out += prefix + csv_field(name) + "," + unit_of(name, b.scenario, scenarios) + "," +
               number(mid) + "," + number(*low) + "," + number(*high) + "," + spread + "," +
               std::to_string(values->size()) + ",," + ratio_text + "\n";
      }
    }
  }
  return out;
}

std::vector<std::string> warnings(const ReportInput& input) {
  std::vector<std::string> out;
  std::size_t few = 0;
  std::size_t failed = 0;
  std::size_t fewest = SIZE_MAX;
  const std::vector<std::string> labels = run_labels(input.runs);
  for (std::size_t r = 0; r < input.runs.size(); ++r) {
    const RunFile& run = input.runs[r];
    const std::string& file = labels[r];
    if (!run.python_reference) {
      const std::string build = run.context.value("loopbench_build_type", "");
      const std::string sanitizer = run.context.value("loopbench_sanitizer", "");
      if (build.empty()) {
        out.push_back(file +
                      ": the build type is not recorded; the figures may come from a "
                      "debug build");
      } else if (build != "Release") {
        out.push_back(file + ": built as " + build +
                      ", not Release: the figures do not show release speed");
      }
      if (!sanitizer.empty()) {
        out.push_back(file + ": built with the " + sanitizer +
                      " sanitizer: the figures measure the sanitizer");
      }
    }
    if (run.context.value("cpu_scaling_enabled", false)) {
      out.push_back(file + ": CPU frequency scaling was on: expect extra noise");
    }
    if (const auto busy = busy_machine(run.context)) out.push_back(file + ": " + *busy);
    for (const auto& b : run.benchmarks) {
      if (b.real_ns.empty()) {
        ++failed;
      } else if (b.real_ns.size() < kMinRepetitions && !run.python_reference) {
        ++few;
        fewest = std::min(fewest, b.real_ns.size());
      }
    }
  }
  if (few > 0) {
    out.push_back(std::to_string(few) + " benchmark(s) have fewer than " +
                  std::to_string(kMinRepetitions) +
                  " repetitions (fewest: " + std::to_string(fewest) +
                  "): their spread is a rough guess and compare cannot flag them");
  }
  if (failed > 0) {
    out.push_back(std::to_string(failed) +
                  " benchmark(s) could not run on their backend (marked 'failed' below)");
  }
  const auto conformance_failures =
      std::count_if(input.conformance.rows.begin(), input.conformance.rows.end(),
                    [](const ConformanceRow& r) { return r.result == "fail"; });
  if (conformance_failures > 0) {
    out.push_back(std::to_string(conformance_failures) + " conformance check(s) failed");
  }
  return out;
}

PageAssets load_page_assets(const std::string& reports_dir) {
  const std::filesystem::path dir(reports_dir);
  PageAssets assets;
  for (const char* library : {"vega", "vega-lite", "vega-embed"}) {
    const auto package = dir / "node_modules" / library;
    assets.libraries += read_file(package / "build" / (std::string(library) + ".min.js")) + "\n";
    const auto manifest = nlohmann::json::parse(read_file(package / "package.json"), nullptr,
                                                /*allow_exceptions=*/false);
    const auto version = manifest.find("version");  // end() unless an object has it.
    if (!assets.library_versions.empty()) assets.library_versions += ", ";
    assets.library_versions +=
        std::string(library) + " " +
        (version != manifest.end() && version->is_string() ? version->get<std::string>()
                                                           : std::string("?"));
  }
  assets.script = read_file(dir / "web" / "page.js");
  assets.style = read_file(dir / "web" / "page.css");
  return assets;
}

namespace {

struct Entry {
  const Benchmark* benchmark;
  const RunFile* run;
  std::string label;   // implementation_label().
  std::size_t column;  // The page's run column (run_columns()).
  double median_ns = 0;
  double size = 0;  // size_of(), for the scaling chart.

  bool ran() const { return !benchmark->real_ns.empty(); }
  bool on_virtual_clock() const { return run->virtual_time(benchmark->implementation); }
};

// The fastest median of a case in one run column, the reference of its
// ratios: among the runs on a real clock (a virtual clock skips its
// sleeps), unless there are none.
double best_of(const std::vector<Entry>& entries, std::size_t column) {
  double best = 0;
  for (const bool any_clock : {false, true}) {
    for (const auto& e : entries) {
      if (e.column != column || !e.ran() || (!any_clock && e.on_virtual_clock())) continue;
      if (best == 0 || e.median_ns < best) best = e.median_ns;
    }
    if (best > 0) break;
  }
  return best;
}

// Benchmarks grouped by case ("<scenario>/<params>[/<variant>]"), scenarios in
// the order they first appear, and the runs' columns.
struct Cases {
  std::vector<std::string> scenarios;
  std::map<std::string, std::vector<std::string>> cases_of;  // scenario -> cases, in order.
  std::map<std::string, std::vector<Entry>> entries;         // case -> entries.
  std::vector<std::string> columns;                          // The label of each run column.
  std::map<std::string, std::string> colours;                // Implementation label -> colour.
};

// One colour per implementation over the whole page: each backend a dark
// colour and its raw baseline the light one of the same pair, the Python
// loops purples (which no backend gets). Pairs from Tableau 20.
std::map<std::string, std::string> colours_of(const Cases& cases) {
  static const char* const kPairs[][2] = {
      {"#1f77b4", "#aec7e8"}, {"#ff7f0e", "#ffbb78"}, {"#2ca02c", "#98df8a"},
      {"#d62728", "#ff9896"}, {"#8c564b", "#c49c94"}, {"#e377c2", "#f7b6d2"},
      {"#7f7f7f", "#c7c7c7"}, {"#bcbd22", "#dbdb8d"}, {"#17becf", "#9edae5"}};
  static const char* const kPythonColours[] = {"#6a3d9a", "#cab2d6", "#9e7bb5", "#3f007d"};
  constexpr std::size_t kPairCount = std::size(kPairs);
  std::vector<std::string> backends;  // By their first appearance.
  std::vector<std::pair<std::string, const Entry*>> labelled;
  for (const auto& scenario : cases.scenarios) {
    for (const auto& name : cases.cases_of.at(scenario)) {
      for (const auto& e : cases.entries.at(name)) {
        labelled.emplace_back(e.label, &e);
        const std::string& backend = e.benchmark->implementation;
        if (e.benchmark->kind != Kind::python_reference &&
            std::find(backends.begin(), backends.end(), backend) == backends.end()) {
          backends.push_back(backend);
        }
      }
    }
  }
  std::map<std::string, std::string> colours;
  std::size_t python = 0;
  for (const auto& [label, e] : labelled) {
    if (colours.count(label) > 0) continue;
    const auto pair = std::find(backends.begin(), backends.end(), e->benchmark->implementation) -
                      backends.begin();
    switch (e->benchmark->kind) {
      case Kind::scenario:
        colours[label] = kPairs[pair % kPairCount][0];
        break;
      case Kind::baseline:
        colours[label] = kPairs[pair % kPairCount][1];
        break;
      case Kind::python_reference:
        colours[label] = kPythonColours[python++ % std::size(kPythonColours)];
        break;
    }
  }
  return colours;
}

Cases group(const std::vector<RunFile>& runs, const ScenarioCatalogue& scenarios) {
  Cases cases;
  const std::vector<std::size_t> columns = run_columns(runs);
  const std::vector<std::string> labels = run_labels(runs);
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const std::size_t column = columns[r];
    if (cases.columns.size() <= column) cases.columns.resize(column + 1);
    // A column is named after its measured run (a Python file only names its own).
    if (!runs[r].python_reference || cases.columns[column].empty()) {
      cases.columns[column] = labels[r];
    }
    for (const auto& b : runs[r].benchmarks) {
      const std::string name = b.case_name();
      if (cases.cases_of.count(b.scenario) == 0) cases.scenarios.push_back(b.scenario);
      auto& list = cases.cases_of[b.scenario];
      if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
      cases.entries[name].push_back({&b, &runs[r], implementation_label(b, runs[r]), column,
                                     median(b.real_ns), size_of(b, scenarios)});
    }
  }
  cases.colours = colours_of(cases);
  return cases;
}

std::map<const Benchmark*, double> ratios_to_best(const std::vector<RunFile>& runs,
                                                  const ScenarioCatalogue& scenarios) {
  const Cases cases = group(runs, scenarios);
  std::map<const Benchmark*, double> ratios;
  for (const auto& [name, entries] : cases.entries) {
    for (std::size_t column = 0; column < cases.columns.size(); ++column) {
      const double best = best_of(entries, column);
      for (const auto& e : entries) {
        if (e.column == column && e.ran() && best > 0) ratios[e.benchmark] = e.median_ns / best;
      }
    }
  }
  return ratios;
}

// The parameters of a case other than its size: the cases of one line of
// the scaling chart share them.
std::string params_besides(const std::string& params, const std::string& size_param) {
  std::string out;
  std::size_t start = 0;
  while (start <= params.size()) {
    const std::size_t end = std::min(params.find(',', start), params.size());
    const std::string part = params.substr(start, end - start);
    if (part.rfind(size_param + "=", 0) != 0) out += (out.empty() ? "" : ",") + part;
    start = end + 1;
  }
  return out;
}

nlohmann::json chart_data(const Cases& cases, const ScenarioCatalogue& scenarios) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& [name, entries] : cases.entries) {
    for (const auto& e : entries) {
      const Benchmark& b = *e.benchmark;
      if (!e.ran()) continue;
      const double best = best_of(entries, e.column);
      nlohmann::json row = {{"case", name},
                            {"scenario", b.scenario},
                            {"params", b.params},
                            {"implementation", e.label},
                            {"run", cases.columns[e.column]},
                            {"kind", to_string(b.kind)},
                            {"median_ns", e.median_ns},
                            {"ratio", best > 0 ? e.median_ns / best : 1.0},
                            {"size", e.size}};
      if (e.size > 0) {
        const std::string& size_param = scenarios.at(b.scenario).size_param;
        row["size_param"] = size_param;
        row["series"] = params_besides(b.params, size_param);
      }
      row["reps_ns"] = b.real_ns;
      // Zeros stay: a percentile below the clock's resolution reads 0, and
      // the chart must say so rather than drop it.
      nlohmann::json percentiles = nlohmann::json::object();
      for (const auto& [shown, counter] : kPercentiles) {
        const auto it = b.counters.find(counter);
        if (it != b.counters.end()) percentiles[shown] = median(it->second);
      }
      row["percentiles_ns"] = percentiles;
      if (const auto it = b.counters.find("items_per_s");
          it != b.counters.end() && median(it->second) > 0) {
        row["ns_per_item"] = 1e9 / median(it->second);
      }
      rows.push_back(row);
    }
  }
  return {{"rows", rows}, {"colours", cases.colours}, {"runs", cases.columns}};
}

bool has_percentiles(const std::vector<Entry>& entries) {
  return std::any_of(entries.begin(), entries.end(), [](const Entry& e) {
    return e.benchmark->counters.count("p50_ns") > 0 && e.ran();
  });
}

std::size_t distinct_sizes(const std::vector<std::string>& names, const Cases& cases) {
  std::set<double> sizes;
  for (const auto& name : names) {
    for (const auto& e : cases.entries.at(name)) {
      if (e.size > 0 && e.benchmark->counters.count("items_per_s") > 0) {
        sizes.insert(e.size);
      }
    }
  }
  return sizes.size();
}

std::string chart_div(const std::string& type, const std::string& key, const std::string& title) {
  return "<figure><figcaption>" + html_escape(title) +
         "</figcaption><div class=\"chart\" data-chart=\"" + type + "\" data-key=\"" +
         html_escape(key) + "\"></div></figure>\n";
}

// A time unit for a column of times: the largest in which its fastest
// (ranked) value is at least 1, so that no figure of the column needs an
// exponent.
struct TimeUnit {
  const char* name;
  double ns;
};
TimeUnit unit_for(double smallest_ns) {
  static const TimeUnit kUnits[] = {{"s", 1e9}, {"ms", 1e6}, {"\u00b5s", 1e3}};
  for (const auto& unit : kUnits) {
    if (smallest_ns >= unit.ns) return unit;
  }
  return {"ns", 1};
}

// A figure of a table: three significant digits at least, thousands
// grouped, never an exponent (a virtual clock's 35 µs in a column of
// seconds reads 0.0000346).
std::string readable(double value) {
  char text[400];
  const int decimals = value >= 100  ? 0
                       : value >= 10 ? 1
                       : value >= 1  ? 2
                       : value > 0
                           ? std::min(12, 2 - static_cast<int>(std::floor(std::log10(value))))
                           : 0;
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  const std::string digits = text;
  const std::size_t whole = std::min(digits.find('.'), digits.size());
  std::string grouped;
  for (std::size_t at = 0; at < digits.size(); ++at) {
    if (at > 0 && at < whole && (whole - at) % 3 == 0) grouped += ',';
    grouped += digits[at];
  }
  return grouped;
}

// One row per implementation, fastest first (in the first run that has it),
// one group of columns per run; the fastest of each run is marked.
std::string case_table(const std::vector<Entry>& entries, const Cases& cases) {
  std::vector<std::size_t> columns;  // The run columns this case has.
  std::vector<std::string> implementations;
  for (const auto& e : entries) {
    if (std::find(columns.begin(), columns.end(), e.column) == columns.end()) {
      columns.push_back(e.column);
    }
    if (std::find(implementations.begin(), implementations.end(), e.label) ==
        implementations.end()) {
      implementations.push_back(e.label);
    }
  }
  std::sort(columns.begin(), columns.end());
  std::map<std::pair<std::string, std::size_t>, const Entry*> cell;
  for (const auto& e : entries) cell[{e.label, e.column}] = &e;
  std::vector<double> best(cases.columns.size());
  std::vector<TimeUnit> units(cases.columns.size(), unit_for(0));
  for (const std::size_t column : columns) {
    best[column] = best_of(entries, column);
    // The unit suits the ranked times: a virtual clock's few microseconds
    // of a sleeping scenario would put a real one's seconds in millions.
    units[column] = unit_for(best[column]);
  }
  // The sort key: the first run that has a time for it, then its ratio there.
  const auto rank = [&](const std::string& label) {
    for (const std::size_t column : columns) {
      const auto it = cell.find({label, column});
      if (it != cell.end() && it->second->ran() && best[column] > 0) {
        return std::make_pair(column, it->second->median_ns / best[column]);
      }
    }
    return std::make_pair(cases.columns.size(), 0.0);
  };
  std::stable_sort(implementations.begin(), implementations.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });

  std::string html = "<table class=\"backends\">";
  const bool several = cases.columns.size() > 1;
  if (several) {
    html += "<tr><th></th>";
    for (const std::size_t column : columns) {
      html += "<th colspan=\"4\" class=\"run\">" + html_escape(cases.columns[column]) + "</th>";
    }
    html += "</tr>";
  }
  html += "<tr><th>implementation</th>";
  for (const std::size_t column : columns) {
    html += std::string("<th>median ") + units[column].name +
            "</th><th>ratio to best</th><th>spread (max-min)/median</th><th>repetitions</th>";
  }
  html += "</tr>\n";
  for (const auto& label : implementations) {
    std::string kind_class;
    std::string cells;
    for (const std::size_t column : columns) {
      const auto it = cell.find({label, column});
      if (it == cell.end()) {
        cells += "<td colspan=\"4\"></td>";
        continue;
      }
      const Entry& e = *it->second;
      const Benchmark& b = *e.benchmark;
      kind_class = to_string(b.kind);
      if (!e.ran()) {
        cells += "<td colspan=\"4\" class=\"failed\">failed: " + html_escape(b.error) + "</td>";
        continue;
      }
      const auto [low, high] = std::minmax_element(b.real_ns.begin(), b.real_ns.end());
      const bool fastest = e.median_ns == best[column] && !e.on_virtual_clock();
      char ratio[48];
      std::snprintf(ratio, sizeof ratio, "%.2fx", e.median_ns / best[column]);
      // One repetition has no spread (the Python rows run once by design).
      char spread[32] = "&ndash;";
      if (b.real_ns.size() > 1) {
        std::snprintf(spread, sizeof spread, "%.1f%%", (*high - *low) / e.median_ns * 100);
      }
      cells += "<td>" + readable(e.median_ns / units[column].ns) + "</td>" +
               (fastest ? "<td class=\"fastest\">" + std::string(ratio) + " fastest</td>"
                        : "<td>" + std::string(ratio) + "</td>") +
               "<td>" + spread + "</td><td>" + std::to_string(b.real_ns.size()) + "</td>";
    }
    html += "<tr class=\"" + kind_class +
            "\"><td><span class=\"swatch\" style=\"background:" + cases.colours.at(label) +
            "\"></span>" + html_escape(label) + "</td>" + cells + "</tr>\n";
  }
  return html + "</table>\n";
}

std::string scenario_sections(const Cases& cases, const ScenarioCatalogue& scenarios) {
  std::string html;
  for (const auto& scenario : cases.scenarios) {
    const auto& names = cases.cases_of.at(scenario);
    const auto facts = scenarios.find(scenario);
    html += "<section class=\"scenario\"><h2 id=\"scenario-" + html_escape(scenario) + "\">" +
            html_escape(scenario) + "</h2>\n";
    if (facts != scenarios.end() && !facts->second.description.empty()) {
      html += "<p class=\"description\">" + html_escape(facts->second.description) + "</p>\n";
    }
    const std::string latency_caption =
        facts != scenarios.end() && !facts->second.latency.empty()
            ? "latency percentiles (log scale); one sample: " + facts->second.latency
            : "latency percentiles (log scale)";
    for (const auto& name : names) {
      const auto& entries = cases.entries.at(name);
      html += "<h3>" + html_escape(name) + "</h3>\n" + case_table(entries, cases) +
              "<div class=\"row\">";
      html += chart_div("bars", name, "median time per run, ratio to the best of its run");
      html += chart_div("spread", name, "every repetition (box: quartiles)");
      if (has_percentiles(entries)) html += chart_div("percentiles", name, latency_caption);
      html += "</div>\n";
    }
    if (distinct_sizes(names, cases) > 1) {
      // Sizes are known only for scenarios with a size parameter.
      const std::string& size_param = scenarios.at(scenario).size_param;
      html += "<h3>" + html_escape(scenario) + ": scaling over " + html_escape(size_param) +
              "</h3><div class=\"row\">" +
              chart_div("scaling", scenario,
                        "time per item at each size (log scales; one line per set of the other "
                        "parameters)") +
              "</div>\n";
    }
    html += "</section>\n";
  }
  return html;
}

std::string context_section(const std::vector<RunFile>& runs) {
  const std::vector<std::string> labels = run_labels(runs);
  std::vector<std::string> keys;
  for (const auto& run : runs) {
    for (const auto& [key, value] : run.context.items()) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  std::string html = "<section><h2 id=\"context\">Machine and build</h2><table><tr><th></th>";
  for (std::size_t r = 0; r < runs.size(); ++r) {
    html += "<th>" + html_escape(labels[r]) +
            (runs[r].python_reference ? " (Python reference)" : "") + "</th>";
  }
  html += "</tr>\n";
  for (const auto& key : keys) {
    html += "<tr><th>" + html_escape(key) + "</th>";
    for (const auto& run : runs) {
      const auto it = run.context.find(key);
      std::string value;
      if (it != run.context.end()) value = it->is_string() ? it->get<std::string>() : as_text(*it);
      html += "<td>" + html_escape(value) + "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</table></section>\n";
}

// The backends and the rules of the matrix, each in the order it first appears.
struct MatrixShape {
  std::vector<std::string> backends;
  std::vector<std::string> rules;
};

MatrixShape shape_of(const std::vector<ConformanceRow>& rows) {
  MatrixShape shape;
  for (const auto& row : rows) {
    if (std::find(shape.backends.begin(), shape.backends.end(), row.backend) ==
        shape.backends.end()) {
      shape.backends.push_back(row.backend);
    }
    if (std::find(shape.rules.begin(), shape.rules.end(), row.rule) == shape.rules.end()) {
      shape.rules.push_back(row.rule);
    }
  }
  return shape;
}

// At the top of the page: per backend, how many rules ended in each result,
// and the whole run's test counts as its log gives them, which are more than
// the rows (only the rule tests make one).
std::string conformance_summary(const ConformanceMatrix& matrix) {
  if (matrix.rows.empty()) return "";
  const MatrixShape shape = shape_of(matrix.rows);
  std::map<std::pair<std::string, std::string>, int> count;  // (backend, result) -> rules.
  for (const auto& row : matrix.rows) ++count[{row.backend, row.result}];
  std::string html = "<section><h2>Conformance at a glance</h2><p>";
  if (matrix.tests) {
    const TestTotals& t = *matrix.tests;
    html += "conformance_tests ran " + std::to_string(t.run) +
            " tests: " + std::to_string(t.passed) + " passed, " + std::to_string(t.skipped) +
            " skipped, " + std::to_string(t.failed) + " failed (as its log says). ";
  }
  html += std::to_string(matrix.rows.size()) + (matrix.tests ? " of them" : " tests") +
          " each check one of the " + std::to_string(shape.rules.size()) + " rules on one of the " +
          std::to_string(shape.backends.size()) +
          " backends (<a href=\"#conformance\">every rule on every backend</a>):</p>"
          "<table class=\"conformance-summary\"><tr><th>backend</th>";
  const char* const results[] = {"pass", "compat", "skip", "fail"};
  for (const char* result : results) html += std::string("<th>") + result + "</th>";
  html += "</tr>\n";
  for (const auto& backend : shape.backends) {
    html += "<tr><th>" + html_escape(backend) + "</th>";
    for (const char* result : results) {
      const auto it = count.find({backend, result});
      const int n = it == count.end() ? 0 : it->second;
      html += n > 0 ? "<td class=\"" + std::string(result) + "\">" + std::to_string(n) + "</td>"
                    : std::string("<td>0</td>");
    }
    html += "</tr>\n";
  }
  return html + "</table></section>\n";
}

// Every rule on every backend, and the rules' texts, both collapsed: the
// summary at the top says what they add up to.
std::string conformance_section(const ReportInput& input) {
  const auto& rows = input.conformance.rows;
  if (rows.empty()) return "";
  const MatrixShape shape = shape_of(rows);
  std::map<std::pair<std::string, std::string>, const ConformanceRow*> cell;
  for (const auto& row : rows) cell[{row.rule, row.backend}] = &row;
  std::string html =
      "<section><h2 id=\"conformance\">Conformance</h2><details><summary>Every rule on every "
      "backend (" +
      std::to_string(shape.rules.size()) + " rules x " + std::to_string(shape.backends.size()) +
      " backends; a compat or skip cell says why)</summary><table "
      "class=\"matrix\"><tr><th>rule</th>";
  for (const auto& backend : shape.backends) html += "<th>" + html_escape(backend) + "</th>";
  html += "</tr>\n";
  for (const auto& rule : shape.rules) {
    const bool known = input.rules.count(rule) > 0;
    html += "<tr><th>" +
            (known ? "<a href=\"#rule-" + html_escape(rule) + "\">" + html_escape(rule) + "</a>"
                   : html_escape(rule)) +
            "</th>";
    for (const auto& backend : shape.backends) {
      const auto it = cell.find({rule, backend});
      if (it == cell.end()) {
        html += "<td></td>";
        continue;
      }
      const ConformanceRow& row = *it->second;
      html += "<td class=\"" + html_escape(row.result) + "\" title=\"" + html_escape(row.reason) +
              "\">" + html_escape(row.result);
      if (!row.reason.empty())
        html += "<div class=\"reason\">" + html_escape(row.reason) + "</div>";
      html += "</td>";
    }
    html += "</tr>\n";
  }
  html += "</table></details>\n";
  if (!input.rules.empty()) {
    html +=
        "<details><summary>The rules' texts (from their catalogues)</summary><dl "
        "class=\"rules\">\n";
    for (const auto& rule : shape.rules) {
      const auto it = input.rules.find(rule);
      if (it == input.rules.end()) continue;
      html += "<dt id=\"rule-" + html_escape(rule) + "\">" + html_escape(rule) + "</dt><dd>" +
              html_escape(it->second) + "</dd>\n";
    }
    html += "</dl></details>\n";
  }
  return html + "</section>\n";
}

}  // namespace

std::string make_html(const ReportInput& input, const PageAssets& assets) {
  const Cases cases = group(input.runs, input.scenarios);
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>loopbench report</title><style>" +
      assets.style + "</style></head><body>\n<h1>loopbench report</h1>\n<nav>";
  for (const auto& scenario : cases.scenarios) {
    html +=
        "<a href=\"#scenario-" + html_escape(scenario) + "\">" + html_escape(scenario) + "</a> ";
  }
  html +=
      "<a href=\"#conformance\">conformance</a> <a href=\"#context\">machine and build</a></nav>\n";
  const auto notes = warnings(input);
  if (!notes.empty()) {
    html += "<ul class=\"warnings\">";
    for (const auto& note : notes) html += "<li>" + html_escape(note) + "</li>";
    html += "</ul>\n";
  }
  html +=
      "<p>Times are the manual time of one scenario run (median over repetitions), each column in "
      "its own unit; the ratio is to the fastest implementation of the same case in the same run "
      "on a real clock (a virtual-time backend skips its sleeps, so it is shown but not ranked). "
      "Tables list the fastest first; each implementation keeps one colour on the whole page. "
      "A chart whose values span more than 20x has a logarithmic axis. <span "
      "class=\"python-reference\">Python "
      "reference</span> rows are asyncio and uvloop running the same scenario; <span "
      "class=\"baseline\">raw</span> rows are the same work written directly on the library.</p>\n";
  html += conformance_summary(input.conformance) + scenario_sections(cases, input.scenarios) +
          conformance_section(input) + context_section(input.runs);
  html += "<footer>Charts drawn with " + html_escape(assets.library_versions) +
          " (BSD-3-Clause, University of Washington Interactive Data Lab), inlined in this "
          "page.</footer>\n";
  html += "<script type=\"application/json\" id=\"loopbench-data\">" +
          json_safe(as_text(chart_data(cases, input.scenarios))) + "</script>\n";
  html += "<script>" + script_safe(assets.libraries) + "</script>\n";
  html += "<script>" + script_safe(assets.script) + "</script>\n</body></html>\n";
  return html;
}

}  // namespace reports
