// loopbench: list backends and scenarios; run a scenario on one backend or all;
// turn benchmark results into a report; compare two benchmark runs.
//
//   loopbench list [--json]
//   loopbench run SCENARIO [--backend NAME[,NAME...]|all] [--set key=value ...]
//                 [--repetitions 10] [--warmup 1] [--json] [--trace] [--quiet]
//   loopbench report BENCH.json... [--label NAME ...] [--conformance MATRIX.json]
//                    [--rules CATALOGUE.md ...] [--out DIR] [--force]
//   loopbench compare BASE.json NEW.json [--clock wall|cpu] [--threshold 0.05] [--alpha 0.05]
//                     [--disturbed 0.15] [--count-threshold 0.01] [--markdown]
//                     [--slower-filter FILE]
//   loopbench compare BASE.json... --vs NEW.json... [options]   (one file per process)
//                     [--confirm-base BASE2.json... --confirm-new NEW2.json...]
//
// Exit codes: 0 every run ok (compare: nothing regressed); 1 a run ended in
// timeout or error (compare: a benchmark got slower, or failed or is missing
// in NEW); 2 bad input (unknown command, scenario, backend, parameter or
// value; a scenario the named backend cannot run; unreadable or malformed
// JSON) or an output that cannot be written (the report's folder, standard
// output, the slower filter), reported as one line on stderr that names the
// problem and the valid choices (for a file: the file and the field). Under
// --backend all or a list of backends, a backend that cannot run the
// scenario (no threads, no sockets) is skipped with a line on stderr.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "loops/loops.hpp"
#include "measure.hpp"
#include "output.hpp"
#include "reports/compare.hpp"
#include "reports/report.hpp"
#include "scenarios/describe.hpp"
#include "scenarios/scenario.hpp"

namespace {

constexpr int kExitRunFailed = 1;
constexpr int kExitUsage = 2;

// Bad input: the one line on stderr and exit code 2.
struct UsageError {
  std::string message;
};

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) {
      out += ", ";
    }
    out += word;
  }
  return out;
}

std::vector<std::string> all_backend_names() {
  std::vector<std::string> names;
  for (const auto& entry : loops::registered_backends()) {
    names.push_back(entry.name);
  }
  return names;
}

std::optional<std::string> unavailable_reason(const loops::BackendEntry& entry) {
  return entry.unavailable_reason ? entry.unavailable_reason() : std::nullopt;
}

// The available backend `name`, or a UsageError that lists the valid ones.
std::string available_backend(const std::string& name) {
  const loops::BackendEntry* entry = loops::find_backend(name);
  if (entry == nullptr) {
    throw UsageError{"unknown backend '" + name + "' (valid: " + join(all_backend_names()) +
                     ", all, or several joined by commas)"};
  }
  if (auto reason = unavailable_reason(*entry)) {
    throw UsageError{"backend '" + name + "' is unavailable: " + *reason +
                     " (available: " + join(loops::available_backend_names()) + ", all)"};
  }
  return name;
}

// The backends `choice` names: "all" (every available one), one name, or
// several joined by commas ("uv,asio"); else a UsageError.
std::vector<std::string> select_backends(const std::string& choice) {
  if (choice == "all") {
    std::vector<std::string> names;
    for (const auto& entry : loops::registered_backends()) {
      if (auto reason = unavailable_reason(entry)) {
        std::fprintf(stderr, "loopbench: skipping backend %s: unavailable: %s\n",
                     entry.name.c_str(), reason->c_str());
        continue;
      }
      names.push_back(entry.name);
    }
    if (names.empty()) {
      throw UsageError{"no backend is available on this machine"};
    }
    return names;
  }
  std::vector<std::string> names;
  for (std::size_t start = 0;;) {
    const std::size_t comma = choice.find(',', start);
    const std::string name = choice.substr(start, comma - start);
    if (name.empty() || name == "all") {
      throw UsageError{"bad backend list '" + choice +
                       "': name backends joined by commas, e.g. uv,asio, or all alone"};
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      throw UsageError{"backend '" + name + "' is named twice in '" + choice + "'"};
    }
    names.push_back(available_backend(name));
    if (comma == std::string::npos) return names;
    start = comma + 1;
  }
}

// Why backend `name` cannot run `scenario`, or "" when it can (or when its
// loop cannot even be made: the run then reports why).
std::string cannot_run(const scenarios::Scenario& scenario, const std::string& name) {
  try {
    const std::unique_ptr<loops::EventLoop> loop = loops::make_loop(name);
    std::string reason = scenarios::cannot_run(scenario, loop->backend());
    loop->close();
    return reason;
  } catch (const std::exception&) {
    return "";
  }
}

// The backends of `choice` that can run `scenario`. Under "all" or a list the
// others are skipped with a line on stderr; a backend named alone that cannot
// is a UsageError that lists those that can.
std::vector<std::string> runnable_backends(const scenarios::Scenario& scenario,
                                           const std::string& choice) {
  std::vector<std::string> runnable;
  const std::vector<std::string> selected = select_backends(choice);
  for (const auto& name : selected) {
    const std::string reason = cannot_run(scenario, name);
    if (reason.empty()) {
      runnable.push_back(name);
    } else if (choice == "all" || selected.size() > 1) {
      std::fprintf(stderr, "loopbench: skipping %s on %s: %s\n", scenario.name.c_str(),
                   name.c_str(), reason.c_str());
    } else {
      std::vector<std::string> able;
      for (const auto& other : loops::available_backend_names()) {
        if (cannot_run(scenario, other).empty()) able.push_back(other);
      }
      throw UsageError{scenario.name + " cannot run on " + name + ": " + reason +
                       " (backends that can: " + join(able) + ")"};
    }
  }
  if (runnable.empty()) {
    throw UsageError{(choice == "all" ? "no available backend" : "none of " + join(selected)) +
                     " can run " + scenario.name};
  }
  return runnable;
}

// Long runs show they are alive: after a second, and then every five, one
// line on stderr; short runs print nothing.
class Progress {
 public:
  explicit Progress(std::string what, bool enabled) : what_(std::move(what)) {
    if (enabled) {
      thread_ = std::thread([this] { report(); });
    }
  }
  ~Progress() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    woken_.notify_one();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

 private:
  void report() {
    using namespace std::chrono_literals;
    const auto start = std::chrono::steady_clock::now();
    auto next = start + 1s;
    std::unique_lock lock(mutex_);
    while (!woken_.wait_until(lock, next, [this] { return done_; })) {
      const auto seconds =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
              .count();
      std::fprintf(stderr, "loopbench: running %s: %lld s\n", what_.c_str(),
                   static_cast<long long>(seconds));
      next += 5s;
    }
  }

  std::string what_;
  std::mutex mutex_;
  std::condition_variable woken_;
  bool done_ = false;
  std::thread thread_;
};

// What `loopbench run` was asked for.
struct RunOptions {
  std::string scenario;
  std::string backends = "all";
  std::vector<std::string> assignments;
  std::int64_t repetitions = 10;
  std::int64_t warmup_runs = 1;
  bool json = false;
  bool quiet = false;
  bool trace = false;
};

constexpr std::int64_t kMaxRepetitions = 100'000;
constexpr std::int64_t kMaxWarmupRuns = 1'000;

// The scenario's parameters as one line: "mode=flat n=100000 ... deadline=30s".
std::string params_line(const scenarios::Params& params) {
  std::string line;
  for (const auto& spec : params.specs()) {
    line += (line.empty() ? "" : " ") + spec.name + "=" + params.text(spec.name);
  }
  return line;
}

int run_command(const RunOptions& options) {
  if (options.scenario.empty()) {
    throw UsageError{"expected a scenario (valid: " + scenarios::names() + ")"};
  }
  const scenarios::Scenario* scenario = scenarios::find(options.scenario);
  if (scenario == nullptr) {
    throw UsageError{"unknown scenario '" + options.scenario + "' (valid: " + scenarios::names() +
                     ")"};
  }
  if (options.repetitions < 1 || options.repetitions > kMaxRepetitions) {
    throw UsageError{"--repetitions must be from 1 to " + std::to_string(kMaxRepetitions) +
                     " (got " + std::to_string(options.repetitions) +
                     "): the counted runs per backend"};
  }
  if (options.warmup_runs < 0 || options.warmup_runs > kMaxWarmupRuns) {
    throw UsageError{"--warmup must be from 0 to " + std::to_string(kMaxWarmupRuns) + " (got " +
                     std::to_string(options.warmup_runs) +
                     "): the uncounted runs per backend before them"};
  }
  scenarios::Params params;
  try {
    params = scenario->parse(options.assignments);
  } catch (const scenarios::ParamError& e) {
    throw UsageError{scenario->name + ": " + e.what()};
  }
  const std::vector<std::string> backends = runnable_backends(*scenario, options.backends);
  const auto warmup_runs = static_cast<std::size_t>(options.warmup_runs);
  const auto repetitions = static_cast<std::size_t>(options.repetitions);

  if (!options.json) {
    std::printf("%s %s: %zu %s per backend after %zu warm-up%s\n\n", scenario->name.c_str(),
                params_line(params).c_str(), repetitions, repetitions == 1 ? "run" : "runs",
                warmup_runs, warmup_runs == 1 ? "" : "s");
  }
  int exit_code = 0;
  std::vector<cli::Measurement> measurements;
  for (std::size_t i = 0; i < backends.size(); ++i) {
    {
      Progress progress(scenario->name + " on " + backends[i] + " (" + std::to_string(i + 1) + "/" +
                            std::to_string(backends.size()) + ")",
                        !options.quiet);
      measurements.push_back(
          cli::measure(*scenario, backends[i], params, warmup_runs, repetitions));
    }
    const cli::Measurement& measurement = measurements.back();
    if (options.json) {
      std::printf("%s\n", cli::to_json_line(measurement).c_str());
    } else {
      std::printf("%s%s", i > 0 ? "\n" : "",
                  cli::to_text(*scenario, measurement, options.trace).c_str());
    }
    cli::flush_stdout();
    if (!measurement.ok()) {
      exit_code = kExitRunFailed;
    }
  }
  if (!options.json) {
    const std::string comparison = cli::comparison_text(measurements);
    if (!comparison.empty()) std::printf("\n%s", comparison.c_str());
  }
  return exit_code;
}

int list_command() {
  std::printf("Backends:\n");
  for (const auto& entry : loops::registered_backends()) {
    const auto reason = unavailable_reason(entry);
    std::printf("  %-8s %-12s %s\n", entry.name.c_str(), reason ? "unavailable" : "available",
                entry.description.c_str());
    if (reason) {
      std::printf("  %-8s %-12s reason: %s\n", "", "", reason->c_str());
    }
  }
  std::printf("\nScenarios (set parameters with --set name=value):\n");
  for (const auto& scenario : scenarios::all()) {
    std::printf("  %s\n      %s\n", scenario.name.c_str(), scenario.description.c_str());
    for (const auto& spec : scenario.params) {
      const std::string assignment = spec.name + "=" + spec.default_text();
      std::printf("      %-22s %-26s %s\n", assignment.c_str(), spec.allowed_text().c_str(),
                  spec.help.c_str());
    }
  }
  return 0;
}

// `list --json`: one JSON object, for programs: the backends with their
// traits (the CPython oracle asserts which backends run each case from
// them), and every scenario's descriptor (scenarios::describe), from which
// the oracle checks its parameters and its reference rows read their facts.
int list_json_command() {
  nlohmann::json backends = nlohmann::json::array();
  for (const auto& entry : loops::registered_backends()) {
    nlohmann::json backend{{"name", entry.name}, {"description", entry.description}};
    if (const auto reason = unavailable_reason(entry)) {
      backend["available"] = false;
      backend["reason"] = *reason;
    } else {
      const loops::BackendTraits traits = entry.create()->traits();
      backend["available"] = true;
      backend["traits"] = {{"real_time", traits.real_time},
                           {"threads", traits.threads},
                           {"io", traits.io},
                           {"completion_io", traits.completion_io}};
    }
    backends.push_back(std::move(backend));
  }
  std::printf("%s\n",
              nlohmann::json{{"backends", backends}, {"scenarios", scenarios::describe_all()}}
                  .dump()
                  .c_str());
  return 0;
}

struct ReportOptions {
  std::vector<std::string> bench_files;
  std::vector<std::string> labels;  // The i-th names the i-th file; "" or none: the default.
  std::string conformance;
  // The shared catalogue and the repository's two in its format.
  std::vector<std::string> rules = {LOOPBENCH_SEMANTICS_MD, LOOPBENCH_STREAMS_CATALOGUE,
                                    LOOPBENCH_CORE_CATALOGUE};
  std::string out = ".";
  bool force = false;
};

int report_command(const ReportOptions& options) {
  if (options.bench_files.empty()) {
    throw UsageError{"report: expected one or more Google Benchmark JSON files"};
  }
  const std::vector<std::string> names = {"report.csv", "index.html"};
  cli::check_report_folder(options.out, names, options.force);
  reports::ReportInput input;
  input.scenarios = reports::parse_scenario_facts(scenarios::describe_all());
  if (options.labels.size() > options.bench_files.size()) {
    throw UsageError{"report: more labels (" + std::to_string(options.labels.size()) +
                     ") than files (" + std::to_string(options.bench_files.size()) +
                     "); one --label per file, in their order"};
  }
  for (std::size_t i = 0; i < options.labels.size(); ++i) {
    const auto& label = options.labels[i];
    if (!label.empty() && std::find(options.labels.begin(), options.labels.begin() + i, label) !=
                              options.labels.begin() + i) {
      throw UsageError{"report: --label '" + label + "' names two files"};
    }
  }
  for (std::size_t i = 0; i < options.bench_files.size(); ++i) {
    input.runs.push_back(reports::load_run_file(options.bench_files[i]));
    if (i < options.labels.size()) input.runs.back().label = options.labels[i];
  }
  if (!options.conformance.empty()) {
    input.conformance = reports::load_conformance(options.conformance);
  }
  // The rule texts only add links: a missing catalogue is a note, not an error.
  for (const auto& catalogue : options.rules) {
    std::error_code missing;
    if (std::filesystem::exists(catalogue, missing)) {
      input.rules.merge(reports::load_rules(catalogue));
    } else {
      std::fprintf(stderr, "loopbench: report: no rule catalogue at %s; its rules are not linked\n",
                   catalogue.c_str());
    }
  }
  const reports::PageAssets assets = reports::load_page_assets(LOOPBENCH_REPORTS_DIR);
  const std::filesystem::path dir =
      cli::write_report(options.out, {{names[0], reports::make_csv(input.runs, input.scenarios)},
                                      {names[1], reports::make_html(input, assets)}});
  for (const auto& warning : reports::warnings(input)) {
    std::fprintf(stderr, "loopbench: report: warning: %s\n", warning.c_str());
  }
  std::printf("%s\n%s\n", (dir / names[0]).c_str(), (dir / names[1]).c_str());
  return 0;
}

// Reads the files of one side of a comparison.
std::vector<reports::RunFile> load_run_files(const std::vector<std::string>& paths) {
  std::vector<reports::RunFile> runs;
  for (const auto& path : paths) runs.push_back(reports::load_run_file(path));
  return runs;
}

struct CompareFiles {
  std::vector<std::string> base;  // BASE NEW, or with --vs every base file.
  std::vector<std::string> candidate;
  std::vector<std::string> confirm_base;
  std::vector<std::string> confirm_new;
  std::string slower_filter;  // Where to write the filter of the slower benchmarks.
};

// `files.base` are BASE NEW, or with --vs every base file (one per process)
// and `files.candidate` the new ones.
int compare_command(const CompareFiles& files, const reports::CompareOptions& options,
                    bool markdown) {
  std::vector<std::string> base_files = files.base;
  std::vector<std::string> candidate_files = files.candidate;
  if (candidate_files.empty()) {
    if (base_files.size() != 2) {
      throw UsageError{
          "compare: expected two files, BASE.json NEW.json, or BASE.json... --vs "
          "NEW.json... (got " +
          std::to_string(base_files.size()) + ")"};
    }
    candidate_files = {base_files[1]};
    base_files.resize(1);
  } else if (base_files.empty()) {
    throw UsageError{
        "compare: expected the base files before --vs (BASE.json... --vs NEW.json...)"};
  }
  if (files.confirm_base.empty() != files.confirm_new.empty()) {
    throw UsageError{
        "compare: --confirm-base and --confirm-new go together (the files of a "
        "second measurement, one per process)"};
  }
  if (!(options.threshold >= 0 && options.threshold < 1)) {
    throw UsageError{"compare: --threshold must be in [0, 1), e.g. 0.05 for 5%"};
  }
  if (!(options.count_threshold > 0 && options.count_threshold < 1)) {
    throw UsageError{"compare: --count-threshold must be in (0, 1), e.g. 0.01 for 1%"};
  }
  if (!(options.alpha > 0 && options.alpha < 1)) {
    throw UsageError{"compare: --alpha must be in (0, 1), e.g. 0.05"};
  }
  if (!(options.disturbed >= 0 && std::isfinite(options.disturbed))) {
    throw UsageError{
        "compare: --disturbed must be >= 0, e.g. 0.15 for 15% (0 keeps every process)"};
  }
  auto comparisons =
      reports::compare(load_run_files(base_files), load_run_files(candidate_files), options);
  const bool shared = std::any_of(comparisons.begin(), comparisons.end(), [](const auto& c) {
    return c.verdict != reports::Verdict::missing_in_new &&
           c.verdict != reports::Verdict::only_in_new;
  });
  if (!shared) {
    throw reports::InputError(
        candidate_files[0], "field benchmarks: no benchmark name in common with " + base_files[0]);
  }
  if (!files.slower_filter.empty()) {
    cli::write_file(files.slower_filter, reports::slower_filter(comparisons) + "\n");
  }
  if (!files.confirm_base.empty()) {
    reports::confirm(comparisons, load_run_files(files.confirm_base),
                     load_run_files(files.confirm_new), options);
  }
  for (const auto& warning : reports::setup_warnings(comparisons, options)) {
    std::fprintf(stderr, "loopbench: compare: warning: %s\n", warning.c_str());
  }
  std::fputs(reports::format_table(comparisons, options, markdown).c_str(), stdout);
  return reports::fails_gate(comparisons) ? kExitRunFailed : 0;
}

// The names of an app's options and subcommands, for "valid: ..." hints.
std::string valid_words(const CLI::App& app) {
  std::vector<std::string> words;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    words.push_back(sub->get_name());
  }
  for (const CLI::Option* option : app.get_options()) {
    if (!option->get_lnames().empty()) {
      words.push_back("--" + option->get_lnames().front());
    }
  }
  return join(words);
}

}  // namespace

int main(int argc, char** argv) {
  scenarios::keep_freed_memory();
  CLI::App app{"loopbench: asyncio-like scenarios on every event-loop backend", "loopbench"};
  app.require_subcommand(1);
  CLI::App* list = app.add_subcommand(
      "list", "List the backends (with availability) and the scenarios (with parameters)");
  bool list_json = false;
  list->add_flag("--json", list_json,
                 "One JSON object: the backends (availability, traits) and the scenario names");
  CLI::App* run = app.add_subcommand("run", "Run a scenario on one backend or on all of them");

  RunOptions run_options;
  // Not required() here: a missing scenario is reported with the valid names.
  run->add_option("scenario", run_options.scenario, "The scenario to run (see 'loopbench list')");
  run->add_option("--backend,-b", run_options.backends,
                  "A backend name, several joined by commas (uv,asio), or 'all' for every "
                  "available one")
      ->capture_default_str();
  run->add_option("--set,-s", run_options.assignments,
                  "Set a parameter: --set name=value (repeatable)")
      ->allow_extra_args(false);
  run->add_option("--repetitions,-r", run_options.repetitions,
                  "Counted runs per backend (1 for a single run)")
      ->capture_default_str();
  run->add_option("--warmup,-w", run_options.warmup_runs,
                  "Uncounted runs per backend before them, on the same loop")
      ->capture_default_str();
  run->add_flag("--json", run_options.json,
                "One JSON line per backend (the last run, every run's figures, their summary)");
  run->add_flag("--trace", run_options.trace, "Show each backend's last trace in the text");
  run->add_flag("--quiet,-q", run_options.quiet, "No progress lines on stderr");

  CLI::App* report = app.add_subcommand(
      "report",
      "Write report.csv and index.html from benchmark JSON files and the conformance matrix");
  ReportOptions report_options;
  report->add_option("files", report_options.bench_files,
                     "Google Benchmark JSON files (loopbench_bench, Python references)");
  report
      ->add_option("--label", report_options.labels,
                   "A name for each file, in their order (repeat it; default: the file's "
                   "machine and date)")
      ->allow_extra_args(false);
  report->add_option("--conformance", report_options.conformance,
                     "The matrix from conformance_tests --matrix=PATH");
  report
      ->add_option("--rules", report_options.rules,
                   "The rule catalogues, SEMANTICS.md's format (repeat it; replaces the default)")
      ->capture_default_str()
      ->allow_extra_args(false);
  report->add_option("--out,-o", report_options.out, "The folder to write into")
      ->capture_default_str();
  report->add_flag("--force", report_options.force,
                   "Replace a report already in the folder (once the new one is complete)");

  CLI::App* compare = app.add_subcommand(
      "compare", "Per benchmark: faster, slower or no change (Mann-Whitney U + threshold)");
  CompareFiles compare_files;
  reports::CompareOptions compare_options;
  bool markdown = false;
  compare->add_option("files", compare_files.base,
                      "BASE.json NEW.json, or the base files (one per process) before --vs");
  compare->add_option("--vs", compare_files.candidate,
                      "The new files, one per process: each process's median is then one sample");
  compare
      ->add_option("--clock", compare_options.clock,
                   "Times: judge each run's wall time, or the CPU time of its thread (which does "
                   "not grow while the process waits for a core)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, reports::Clock>{{"wall", reports::Clock::wall},
                                                {"cpu", reports::Clock::cpu}},
          CLI::ignore_case))
      ->capture_default_str();
  compare
      ->add_option("--threshold", compare_options.threshold,
                   "Times: the smallest relative change of the median that counts")
      ->capture_default_str();
  compare->add_option("--alpha", compare_options.alpha, "The significance level of the test")
      ->capture_default_str();
  compare
      ->add_option("--disturbed", compare_options.disturbed,
                   "With several processes per side: leave out those slower than their side's "
                   "fastest by more than this fraction (0: keep all)")
      ->capture_default_str();
  compare
      ->add_option("--count-threshold", compare_options.count_threshold,
                   "Instruction counts: the smallest relative change that counts")
      ->capture_default_str();
  compare->add_option("--slower-filter", compare_files.slower_filter,
                      "Write a --benchmark_filter matching the benchmarks judged slower (an "
                      "empty line for none), to measure them again");
  compare->add_option("--confirm-base", compare_files.confirm_base,
                      "A second measurement of the base, one file per process: a benchmark "
                      "judged slower fails the gate only if it is slower there too");
  compare->add_option("--confirm-new", compare_files.confirm_new,
                      "The second measurement of the new side, one file per process");
  compare->add_flag("--markdown", markdown, "A Markdown table (for CI comments)");

  try {
    // Checked before CLI11, which would only say that a command is required.
    if (argc > 1) {
      const std::string_view first = argv[1];
      if (first != "list" && first != "run" && first != "report" && first != "compare" &&
          first != "-h" && first != "--help") {
        throw UsageError{"unknown " + std::string(first[0] == '-' ? "option" : "command") + " '" +
                         std::string(first) + "' (valid: list, run, report, compare, --help)"};
      }
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      const CLI::App* context = &app;
      for (const CLI::App* sub : {list, run, report, compare}) {
        if (sub->parsed()) context = sub;
      }
      std::string message = e.what();
      if (context == &app && dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
        message = "expected a command";
      }
      throw UsageError{message + " (valid: " + valid_words(*context) + ")"};
    }
    int exit_code = 0;
    if (list->parsed()) {
      exit_code = list_json ? list_json_command() : list_command();
    } else if (report->parsed()) {
      exit_code = report_command(report_options);
    } else if (compare->parsed()) {
      exit_code = compare_command(compare_files, compare_options, markdown);
    } else {
      exit_code = run_command(run_options);
    }
    cli::flush_stdout();
    return exit_code;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "loopbench: %s\n", e.message.c_str());
    return kExitUsage;
  } catch (const reports::InputError& e) {
    std::fprintf(stderr, "loopbench: %s\n", e.what());
    return kExitUsage;
  } catch (const cli::OutputError& e) {
    std::fprintf(stderr, "loopbench: %s\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    // What no check above foresaw (a path the file system refuses, memory
    // running out) still ends as one line, not an abort.
    std::fprintf(stderr, "loopbench: %s\n", e.what());
    return kExitUsage;
  }
}
