#include "reports/report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>

#include "scenarios/describe.hpp"

namespace {

const reports::ScenarioCatalogue& catalogue() {
  static const reports::ScenarioCatalogue facts =
      reports::parse_scenario_facts(scenarios::describe_all());
  return facts;
}

reports::RunFile fixture(const std::string& name) {
  return reports::load_run_file(std::string(LOOPBENCH_REPORT_FIXTURES) + "/" + name);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(RunFile, NamesSplitIntoScenarioImplementationAndParams) {
  const reports::RunFile run = fixture("aa_base.json");
  ASSERT_EQ(run.benchmarks.size(), 6u);  // Aggregates are not benchmarks of their own.
  const auto& chain = run.benchmarks[0];
  EXPECT_EQ(chain.scenario, "callback_chain");
  EXPECT_EQ(chain.implementation, "epoll");
  EXPECT_EQ(chain.params, "n=1000");
  EXPECT_EQ(chain.kind, reports::Kind::scenario);
  EXPECT_EQ(chain.real_ns.size(), 12u);
  EXPECT_GT(chain.real_ns[0], 1e6);  // ms in the file, ns here.
  EXPECT_EQ(chain.counters.at("p99_ns").size(), 12u);
  EXPECT_TRUE(run.virtual_time("sim"));
  EXPECT_FALSE(run.virtual_time("epoll"));
  const auto& baseline = run.benchmarks[3];
  EXPECT_EQ(baseline.kind, reports::Kind::baseline);
  EXPECT_EQ(baseline.implementation, "epoll");
  EXPECT_EQ(baseline.scenario, "callback_chain");
  EXPECT_EQ(run.benchmarks[4].params, "mode=flat,n=100");
  EXPECT_EQ(reports::param_value(run.benchmarks[4].params, "n"), "100");
}

TEST(RunFile, PythonReferenceFilesMarkTheirBackends) {
  const reports::RunFile run = fixture("python_reference.json");
  EXPECT_TRUE(run.python_reference);
  ASSERT_EQ(run.benchmarks.size(), 2u);
  EXPECT_EQ(run.benchmarks[0].kind, reports::Kind::python_reference);
  EXPECT_EQ(run.benchmarks[0].implementation, "asyncio");
  EXPECT_EQ(run.benchmarks[1].implementation, "uvloop");
}

TEST(Csv, OneRowPerBenchmarkAndMetricInFileOrder) {
  const std::string csv =
      reports::make_csv({fixture("aa_base.json"), fixture("python_reference.json")}, catalogue());
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, reports::csv_header);
  std::vector<std::string> rows;
  while (std::getline(in, line)) rows.push_back(line);
  // real_time, cpu_time and 6 counters for each of 6 + 2 benchmarks.
  EXPECT_EQ(rows.size(), 8u * 8u);
  EXPECT_EQ(rows.front().rfind("fixture-host 2026-11-25 12:00,fixture-host,aa_base,scenario,"
                               "callback_chain,epoll,n=1000,,real_time,ns,",
                               0),
            0u)
      << rows.front();
  EXPECT_TRUE(contains(csv, "\"mode=flat,n=100\""));  // Commas quoted.
  EXPECT_TRUE(contains(rows.back(),
                       "py-host 2026-11-25 12:00,py-host,python_reference,python-reference,"
                       "callback_chain,uvloop"));
  EXPECT_TRUE(contains(rows.back(), ",12,"));  // Repetitions.
}

// The page's ratio, on the row of the time it ranks by: each benchmark's
// median real_time over the fastest median of its case.
TEST(Csv, TheRealTimeRowCarriesTheRatioToTheBest) {
  const reports::RunFile run = reports::parse_run_file("ratios.json", R"({"context": {},
      "benchmarks": [
        {"name": "gather/uv/n=1/manual_time", "time_unit": "ms", "real_time": 30, "cpu_time": 1,
         "p99_ns": 5},
        {"name": "gather/uv/n=1/manual_time", "time_unit": "ms", "real_time": 20, "cpu_time": 1,
         "p99_ns": 5},
        {"name": "gather/epoll/n=1/manual_time", "time_unit": "ms", "real_time": 10,
         "cpu_time": 1, "p99_ns": 5},
        {"name": "gather/epoll/n=2/manual_time", "time_unit": "us", "real_time": 500,
         "cpu_time": 1}]})");
  const std::string csv = reports::make_csv({run}, catalogue());
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_TRUE(contains(line, ",error,ratio_to_best")) << line;
  std::vector<std::string> rows;
  while (std::getline(in, line)) rows.push_back(line);
  const auto row_of = [&rows](const std::string& start) {
    for (const auto& row : rows) {
      if (contains(row, start)) return row;
    }
    return std::string("(no row " + start + ")");
  };
  const auto ratio_of = [&row_of](const std::string& start) {
    const std::string row = row_of(start);
    return row.substr(row.rfind(',') + 1);
  };
  EXPECT_EQ(ratio_of(",uv,n=1,,real_time,"), "2.5") << csv;
  EXPECT_EQ(ratio_of(",epoll,n=1,,real_time,"), "1") << csv;
  EXPECT_EQ(ratio_of(",epoll,n=2,,real_time,"), "1") << csv;  // Alone in its case.
  EXPECT_EQ(ratio_of(",uv,n=1,,p99_ns,"), "") << csv;         // Not on other metrics.
  EXPECT_EQ(ratio_of(",uv,n=1,,cpu_time,"), "") << csv;
}

TEST(Csv, UnitsComeFromTheBenchAndTheScenarios) {
  const reports::RunFile run = reports::parse_run_file(
      "units.json",
      R"({"context": {}, "benchmarks": [{"name": "tcp_echo/epoll/c=1,s=64,m=10/manual_time",
          "time_unit": "ms", "real_time": 1, "cpu_time": 1, "p99_ns": 5, "items_per_s": 9,
          "early_wakeups": 0, "mb_per_s": 2, "message_bytes": 64, "round_trips": 10}]})");
  const std::string with_facts = reports::make_csv({run}, catalogue());
  for (const char* row : {",real_time,ns,", ",p99_ns,ns,", ",items_per_s,1/s,", ",early_wakeups,,",
                          ",mb_per_s,MB/s,", ",message_bytes,B,", ",round_trips,,"}) {
    EXPECT_TRUE(contains(with_facts, row)) << row;
  }
  // Without the scenario's facts its metrics have no unit: a name alone says
  // nothing (mb_per_s was once read as "1/s"). The bench's own keep theirs.
  const std::string bare = reports::make_csv({run}, {});
  EXPECT_TRUE(contains(bare, ",mb_per_s,,")) << bare;
  EXPECT_TRUE(contains(bare, ",p99_ns,ns,")) << bare;
  EXPECT_EQ(catalogue().at("gather").size_param, "n");
  EXPECT_EQ(catalogue().at("stop_race").size_param, "");
}

// Every run has a name of its own: given, else its machine and date; two
// runs of one machine at one minute are told apart by their files.
TEST(RunLabels, GivenElseMachineAndDateNeverTwice) {
  reports::RunFile base = fixture("aa_base.json");
  reports::RunFile again = base;
  again.path = "elsewhere/aa_base.json";
  reports::RunFile other = fixture("aa_new.json");
  EXPECT_EQ(reports::run_labels({base}), std::vector<std::string>{"fixture-host 2026-11-25 12:00"});
  EXPECT_EQ(reports::run_labels({base, other}),
            (std::vector<std::string>{"fixture-host 2026-11-25 12:00 (aa_base)",
                                      "fixture-host 2026-11-25 12:00 (aa_new)"}));
  EXPECT_EQ(reports::run_labels({base, again}),
            (std::vector<std::string>{"fixture-host 2026-11-25 12:00 (aa_base) #1",
                                      "fixture-host 2026-11-25 12:00 (aa_base) #2"}));
  other.label = "after the fix";
  EXPECT_EQ(reports::run_labels({base, other}),
            (std::vector<std::string>{"fixture-host 2026-11-25 12:00", "after the fix"}));
}

// With several runs each row names its run, and its ratio is to the best
// of its own run.
TEST(Csv, RowsNameTheirRunAndRatiosStayInIt) {
  reports::RunFile fast = fixture("aa_base.json");
  fast.label = "fast";
  reports::RunFile slow = fixture("shift10_new.json");
  slow.label = "slow";
  const std::string csv = reports::make_csv({fast, slow}, catalogue());
  std::istringstream in(csv);
  std::string line;
  int fastest = 0;
  while (std::getline(in, line)) {
    if (!contains(line, ",callback_chain,") || !contains(line, ",real_time,")) continue;
    EXPECT_TRUE(line.rfind("fast,", 0) == 0 || line.rfind("slow,", 0) == 0) << line;
    if (line.substr(line.rfind(',') + 1) == "1") ++fastest;
  }
  EXPECT_EQ(fastest, 2) << csv;  // One best per run, not one for both.
}

TEST(Warnings, DebugSanitizerAndFewRepetitions) {
  reports::ReportInput input;
  input.runs = {fixture("debug_few_reps.json")};
  const auto notes = reports::warnings(input);
  std::string all;
  for (const auto& note : notes) all += note + "\n";
  EXPECT_TRUE(contains(all, "built as Debug")) << all;
  EXPECT_TRUE(contains(all, "asan-ubsan")) << all;
  EXPECT_TRUE(contains(all, "fewer than 5 repetitions (fewest: 3)")) << all;
  input.runs = {fixture("aa_base.json")};
  EXPECT_TRUE(reports::warnings(input).empty());
}

// The Python rows run once by design: not a reason to warn.
TEST(Warnings, PythonRowsRunOnceWithoutAWarning) {
  reports::ReportInput input;
  input.runs = {fixture("aa_base.json"),
                reports::parse_run_file("python.json", R"({"context": {"loopbench_reference":
    "python"}, "benchmarks": [{"name": "gather/asyncio/n=1/manual_time", "run_type": "iteration",
    "time_unit": "ms", "real_time": 1, "cpu_time": 1}]})")};
  EXPECT_TRUE(reports::warnings(input).empty());
}

reports::RunFile run_at_load(const std::string& load) {
  return reports::parse_run_file(
      "busy.json", R"({"context": {"num_cpus": 2, "load_avg": [)" + load + R"(, 4, 4]},
    "benchmarks": [{"name": "gather/epoll/n=1/manual_time", "run_type": "iteration",
                    "repetitions": 5, "time_unit": "ms", "real_time": 1, "cpu_time": 1}]})");
}

TEST(Warnings, ALoadAboveTheCoresIsNamed) {
  const auto notes_at = [](const std::string& load) {
    reports::ReportInput input;
    input.runs = {run_at_load(load)};
    std::string all;
    for (const auto& note : reports::warnings(input)) all += note + "\n";
    return all;
  };
  EXPECT_TRUE(contains(notes_at("12.3"), ": the load average was 12.3 on 2 CPUs"))
      << notes_at("12.3");
  EXPECT_FALSE(contains(notes_at("2"), "load average"));  // As busy as it has cores: fine.
}

class Page : public ::testing::Test {
 protected:
  static std::string make() {
    reports::ReportInput input;
    input.scenarios = catalogue();
    input.runs = {fixture("aa_base.json"), fixture("python_reference.json")};
    const std::string dir = LOOPBENCH_REPORT_FIXTURES;
    input.conformance = reports::load_conformance(dir + "/matrix.json");
    input.rules = reports::load_rules(dir + "/rules.md");
    return reports::make_html(input, reports::load_page_assets(LOOPBENCH_REPORTS_DIR));
  }
};

TEST_F(Page, ShowsEveryImplementationWithPythonReferencesMarked) {
  const std::string html = make();
  for (const char* label : {">epoll<", ">uv<", ">raw epoll<", ">asyncio (Python reference)<",
                            ">uvloop (Python reference)<"}) {
    EXPECT_TRUE(contains(html, label)) << label;
  }
  EXPECT_TRUE(contains(html, "class=\"python-reference\""));
}

TEST_F(Page, HasEveryChartKind) {
  const std::string html = make();
  for (const char* chart : {"data-chart=\"bars\"", "data-chart=\"spread\"",
                            "data-chart=\"percentiles\"", "data-chart=\"scaling\""}) {
    EXPECT_TRUE(contains(html, chart)) << chart;
  }
  // gather ran at n=100 and n=1000: one scaling chart, for gather only.
  EXPECT_TRUE(contains(html, "data-chart=\"scaling\" data-key=\"gather\""));
  EXPECT_FALSE(contains(html, "data-chart=\"scaling\" data-key=\"callback_chain\""));
}

// The table row of `label` in the first case that has one.
std::string row_of(const std::string& html, const std::string& label) {
  const auto start = html.find("</span>" + label + "</td>");
  if (start == std::string::npos) return "";
  return html.substr(start, html.find("</tr>", start) - start);
}

TEST_F(Page, RatiosAreToTheFastestOfTheCase) {
  const std::string html = make();
  // raw epoll (1.5 ms) is the fastest callback chain on a real clock; asyncio
  // (30 ms) is about 20x it; sim (0.2 ms, virtual) is shown, not the reference.
  EXPECT_TRUE(contains(row_of(html, "raw epoll"), "<td class=\"fastest\">1.00x fastest</td>"))
      << row_of(html, "raw epoll");
  EXPECT_TRUE(contains(row_of(html, "sim (virtual time)"), "<td>0.1"))
      << row_of(html, "sim (virtual time)");
  const std::string asyncio = row_of(html, "asyncio (Python reference)");
  EXPECT_TRUE(contains(asyncio, "<td>19.") || contains(asyncio, "<td>20.") ||
              contains(asyncio, "<td>21."))
      << asyncio;
}

// Fastest first: in each case the rows follow the ratio, whatever order
// the files listed them in; the fastest alone is marked.
TEST_F(Page, TablesAreSortedFastestFirst) {
  const std::string html = make();
  const auto table = html.find("<table class=\"backends\">");
  const std::string first = html.substr(table, html.find("</table>", table) - table);
  std::vector<double> ratios;
  for (auto at = first.find("x</td>"); at != std::string::npos; at = first.find("x</td>", at + 1)) {
    const auto open = first.rfind('>', at);
    ratios.push_back(std::stod(first.substr(open + 1, at - open - 1)));
  }
  ASSERT_GE(ratios.size(), 3u) << first;
  // sim runs on a virtual clock: shown where its time puts it, not ranked.
  EXPECT_TRUE(std::is_sorted(ratios.begin(), ratios.end())) << first;
  std::size_t marks = 0;
  for (auto at = first.find("fastest</td>"); at != std::string::npos;
       at = first.find("fastest</td>", at + 1)) {
    ++marks;
  }
  EXPECT_EQ(marks, 1u) << first;
}

// Each column of times has one unit, chosen for its fastest; no figure
// needs an exponent.
TEST_F(Page, TimesInAUnitPerColumnWithoutExponents) {
  const std::string html = make();
  EXPECT_TRUE(contains(html, "<th>median ms</th>"));
  EXPECT_TRUE(contains(html, "<th>median \u00b5s</th>"));  // gather at n=100: 0.5 ms.
  const auto tables = html.find("<table class=\"backends\">");
  const std::string body = html.substr(tables, html.find("<section><h2", tables) - tables);
  EXPECT_FALSE(contains(body, "e+")) << body;
  EXPECT_FALSE(contains(body, "e-")) << body;
}

// A single run (the Python rows run once by design) has no spread to show.
TEST(PageSpread, OneRepetitionShowsNoSpread) {
  reports::ReportInput input;
  input.scenarios = catalogue();
  input.runs = {reports::parse_run_file("python.json", R"({"context": {"loopbench_reference":
    "python"}, "benchmarks": [{"name": "gather/asyncio/n=1/manual_time", "run_type": "iteration",
    "time_unit": "ms", "real_time": 1, "cpu_time": 1}]})")};
  const std::string html =
      reports::make_html(input, reports::load_page_assets(LOOPBENCH_REPORTS_DIR));
  EXPECT_TRUE(contains(html, "<td>&ndash;</td><td>1</td>")) << html;
  EXPECT_FALSE(contains(html, "<td>0.0%</td>"));
}

// One colour per implementation on the whole page, a raw baseline the light
// shade of its backend, the Python loops purple.
TEST_F(Page, OneColourPerImplementation) {
  const std::string html = make();
  const std::string marker = "id=\"loopbench-data\">";
  const auto start = html.find(marker) + marker.size();
  const auto data =
      nlohmann::json::parse(html.substr(start, html.find("</script>", start) - start));
  const auto& colours = data.at("colours");
  std::set<std::string> distinct;
  for (const auto& [name, colour] : colours.items()) distinct.insert(colour.get<std::string>());
  EXPECT_EQ(distinct.size(), colours.size()) << colours.dump();
  EXPECT_EQ(colours.at("epoll"), "#1f77b4");
  EXPECT_EQ(colours.at("raw epoll"), "#aec7e8");
  EXPECT_EQ(colours.at("asyncio (Python reference)"), "#6a3d9a");
  for (const auto& row : data.at("rows")) EXPECT_TRUE(colours.contains(row.at("implementation")));
}

// Two runs: one group of columns per run, headed by its label, each with
// its own ratio and its fastest marked; the rows are implementations.
TEST(TwoRuns, OneRatioColumnPerRun) {
  reports::ReportInput input;
  input.scenarios = catalogue();
  input.runs = {fixture("page/a/bench.json"), fixture("page/a/python-reference.json"),
                fixture("page/b/bench.json")};
  const std::string html =
      reports::make_html(input, reports::load_page_assets(LOOPBENCH_REPORTS_DIR));
  EXPECT_TRUE(contains(html, "<th colspan=\"4\" class=\"run\">vm 2026-12-07 23:33</th>"));
  EXPECT_TRUE(contains(html, "<th colspan=\"4\" class=\"run\">vm2 2026-12-07 15:35</th>"));
  const std::string epoll = row_of(html, "epoll");
  EXPECT_EQ(std::count(epoll.begin(), epoll.end(), 'x'), 2) << epoll;  // Two ratios.
  EXPECT_FALSE(contains(html, "[bench]"));
  // The unit suits the ranked times: sleep_precision's second-long runs are
  // in seconds although sim's virtual run took 35 µs.
  const auto sleeps = html.find("<h3>sleep_precision/");
  const std::string sleep_table = html.substr(sleeps, html.find("</table>", sleeps) - sleeps);
  EXPECT_TRUE(contains(sleep_table, "<th>median s</th>")) << sleep_table;
  EXPECT_TRUE(contains(sleep_table, "<td>0.0000")) << sleep_table;
  // The Python rows join the run measured on their machine.
  const std::string asyncio = row_of(html, "asyncio (Python reference)");
  EXPECT_TRUE(contains(asyncio, "x</td>")) << asyncio;
  EXPECT_TRUE(contains(asyncio, "<td colspan=\"4\"></td>")) << asyncio;
}

// What one latency sample is comes from the scenario's own descriptor (the
// text `loopbench list` prints), beside its percentiles chart.
TEST(TwoRuns, LatencyChartsSayWhatASampleIs) {
  reports::ReportInput input;
  input.scenarios = catalogue();
  input.runs = {fixture("page/a/bench.json")};
  const std::string html =
      reports::make_html(input, reports::load_page_assets(LOOPBENCH_REPORTS_DIR));
  for (const char* scenario : {"producer_consumer", "timer_storm", "sleep_precision"}) {
    const std::string& latency = catalogue().at(scenario).latency;
    ASSERT_FALSE(latency.empty()) << scenario;
    EXPECT_TRUE(contains(html, "one sample: " + latency)) << scenario;
    EXPECT_TRUE(contains(html, catalogue().at(scenario).description)) << scenario;
  }
}

TEST_F(Page, ConformanceMatrixLinksRulesToTheirText) {
  const std::string html = make();
  EXPECT_TRUE(contains(html, "<a href=\"#rule-CB-ORD-03\">CB-ORD-03</a>"));
  EXPECT_TRUE(contains(html, "<dt id=\"rule-CB-ORD-03\">"));
  EXPECT_TRUE(contains(html, "Timers with equal deadlines run in order."));
  EXPECT_TRUE(contains(html, "class=\"compat\" title=\"libuv timers have 1 ms resolution\""));
  EXPECT_TRUE(contains(html, "no threads &lt;here&gt;"));  // Escaped.
}

// Per backend at the top, the whole run's counts as its log gives them; the
// matrix and the rules' texts collapsed below.
TEST_F(Page, ConformanceSummaryPerBackendAtTheTop) {
  const std::string html = make();
  const auto summary = html.find("<h2>Conformance at a glance</h2>");
  ASSERT_NE(summary, std::string::npos);
  EXPECT_LT(summary, html.find("<h2 id=\"scenario-"));
  EXPECT_TRUE(contains(html, "conformance_tests ran 7 tests: 6 passed, 1 skipped, 0 failed"));
  EXPECT_TRUE(contains(html, "5 of them each check one of the 2 rules on one of the 3 backends"));
  // uv: one pass, one compat; sim: one skip.
  EXPECT_TRUE(contains(html,
                       "<tr><th>uv</th><td class=\"pass\">1</td><td "
                       "class=\"compat\">1</td><td>0</td><td>0</td></tr>"))
      << html.substr(summary, 1200);
  EXPECT_TRUE(contains(html, "<tr><th>sim</th><td>0</td><td>0</td><td class=\"skip\">1</td>"));
  EXPECT_TRUE(
      contains(html, "<details><summary>Every rule on every backend (2 rules x 3 backends"));
  EXPECT_FALSE(contains(html, "<details open>"));
}

TEST_F(Page, IsSelfContained) {
  const std::string html = make();
  EXPECT_FALSE(contains(html, "<script src"));
  EXPECT_FALSE(contains(html, "<link "));
  EXPECT_TRUE(contains(html, "vega-lite 5.21.0"));  // Pinned, and the licence noted.
  EXPECT_TRUE(contains(html, "BSD-3-Clause"));
  // Only the closing tags of our own four script elements.
  std::size_t closes = 0;
  for (auto at = html.find("</script"); at != std::string::npos;
       at = html.find("</script", at + 1)) {
    ++closes;
  }
  EXPECT_EQ(closes, 3u);
}

}  // namespace
