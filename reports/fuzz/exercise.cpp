#include "exercise.hpp"

#include "reports/compare.hpp"
#include "reports/report.hpp"

namespace reports::fuzz {

namespace {

// The page without the charting libraries: only the page's own code is under test.
const PageAssets kNoAssets{};

// The name of the second copy of a run: the input's first bytes, so that file
// names with any bytes (invalid UTF-8, control characters) reach the labels
// and messages that show them.
std::string odd_name(const std::string& text) {
  return text.substr(0, 16) + ".json";
}

}  // namespace

bool exercise_bench_json(const std::string& text) {
  RunFile run;
  try {
    run = parse_run_file("fuzz.json", text);
  } catch (const InputError&) {
    return false;
  }
  RunFile renamed = run;
  renamed.path = odd_name(text);
  const std::vector<RunFile> runs = {run, renamed};
  ReportInput input;
  input.runs = runs;
  make_csv(runs, {});
  warnings(input);
  make_html(input, kNoAssets);
  // One file per side (the repetitions are the unit), then two per side (the
  // process is), confirmed by the same files, on both clocks. What compare
  // refuses (a mode it does not know, counts offered as a confirmation of
  // times) is an InputError, which the command line reports as exit 2.
  try {
    const CompareOptions wall;
    CompareOptions cpu;
    cpu.clock = Clock::cpu;
    format_table(compare({run}, {renamed}, wall), wall, false);
    for (const CompareOptions& options : {wall, cpu}) {
      std::vector<Comparison> comparisons = compare(runs, runs, options);
      slower_filter(comparisons);
      confirm(comparisons, runs, runs, options);
      setup_warnings(comparisons, options);
      fails_gate(comparisons);
      format_table(comparisons, options, true);
    }
  } catch (const InputError&) {
  }
  return true;
}

bool exercise_conformance_matrix(const std::string& text) {
  ReportInput input;
  try {
    input.conformance = parse_conformance("fuzz.json", text);
  } catch (const InputError&) {
    return false;
  }
  input.rules = {{"LOOP-RUC-01", "a rule"}};
  warnings(input);
  make_html(input, kNoAssets);
  return true;
}

}  // namespace reports::fuzz
