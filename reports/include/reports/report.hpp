// report.csv and index.html from any number of benchmark files (several runs,
// machines, or the Python reference rows) and the conformance matrix.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reports/bench_json.hpp"

namespace reports {

// The conformance matrix that `conformance_tests --matrix=PATH` writes.
struct ConformanceRow {
  std::string backend;
  std::string rule;    // A rule ID of a catalogue, e.g. "LOOP-RUC-01".
  std::string result;  // pass, fail, compat or skip.
  std::string reason;
};
// The whole run's test counts, which its log ends with: more than the rows,
// since only the rule tests make a row.
struct TestTotals {
  std::int64_t run = 0;
  std::int64_t passed = 0;
  std::int64_t skipped = 0;
  std::int64_t failed = 0;
};
struct ConformanceMatrix {
  std::vector<ConformanceRow> rows;  // Empty: no matrix section.
  std::optional<TestTotals> tests;   // Absent from matrices written before it was.
};
// Reads and validates the matrix (parse_conformance). Throws InputError.
ConformanceMatrix load_conformance(const std::string& path);
// Validates the matrix's JSON text, from a file named `path`: at least one
// row, each with four strings and a known result; the test counts, if there,
// four counts. Throws InputError.
ConformanceMatrix parse_conformance(const std::string& path, const std::string& text);

// Rule ID -> the rule's text, from a catalogue (SEMANTICS.md, or one of the
// repository's in its format), so that the matrix can link each rule to
// what it says.
std::map<std::string, std::string> load_rules(const std::string& path);  // Throws InputError.

// What a scenario declares about its figures, by scenario name: read from
// the "scenarios" array of `loopbench list --json` (scenarios::describe_all()),
// so that the reports know each metric's unit and the size a case ran at
// without guessing them from names. A scenario or metric not listed has no
// unit and no size.
struct ScenarioFacts {
  std::string size_param;                    // Empty: none.
  std::map<std::string, std::string> units;  // Metric -> unit.
  std::string description;                   // One line: what the scenario does.
  std::string latency;                       // What one latency sample is; empty: none.
};
using ScenarioCatalogue = std::map<std::string, ScenarioFacts>;
ScenarioCatalogue parse_scenario_facts(const nlohmann::json& scenarios);

struct ReportInput {
  ScenarioCatalogue scenarios;
  std::vector<RunFile> runs;
  ConformanceMatrix conformance;
  std::map<std::string, std::string> rules;
};

// How the report names each run, in the order of `runs`: its own label,
// else its machine and the minute it started ("vm 2026-12-07 23:33"). Two
// names never collide: where the defaults would, the file's name is added,
// then a number.
std::vector<std::string> run_labels(const std::vector<RunFile>& runs);

// Fewer repetitions than this make the spread and the compare gate unreliable.
inline constexpr std::size_t kMinRepetitions = 5;

// What a reader must know before trusting the numbers: debug or sanitizer
// builds, CPU frequency scaling, too few repetitions, failed runs.
std::vector<std::string> warnings(const ReportInput& input);

// report.csv: one row per benchmark x metric, each naming its run
// (run_labels); the columns are documented in
// reports/README.md and `csv_header` names them.
extern const char* const csv_header;
std::string make_csv(const std::vector<RunFile>& runs, const ScenarioCatalogue& scenarios);

// The charting libraries and the page's own script and style, inlined into
// index.html so that it opens offline.
struct PageAssets {
  std::string libraries;  // vega, vega-lite and vega-embed, in that order.
  std::string library_versions;
  std::string script;
  std::string style;
};
// Reads the assets from `reports_dir` (web/ and node_modules/). Throws
// InputError when the libraries are not installed (scripts/install-deps.sh).
PageAssets load_page_assets(const std::string& reports_dir);

std::string make_html(const ReportInput& input, const PageAssets& assets);

}  // namespace reports
