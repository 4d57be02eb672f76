#include "reports/report.hpp"

#include <gtest/gtest.h>

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
  EXPECT_EQ(rows.front().rfind(
                "fixture-host,aa_base,scenario,callback_chain,epoll,n=1000,,real_time,ns,", 0),
            0u)
      << rows.front();
  EXPECT_TRUE(contains(csv, "\"mode=flat,n=100\""));  // Commas quoted.
  EXPECT_TRUE(
      contains(rows.back(), "py-host,python_reference,python-reference,callback_chain,uvloop"));
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
  const auto start = html.find("<td>" + label + "</td>");
  if (start == std::string::npos) return "";
  return html.substr(start, html.find("</tr>", start) - start);
}

TEST_F(Page, RatiosAreToTheFastestOfTheCase) {
  const std::string html = make();
  // raw epoll (1.5 ms) is the fastest callback chain on a real clock; asyncio
  // (30 ms) is about 20x it; sim (0.2 ms, virtual) is shown, not the reference.
  EXPECT_TRUE(contains(row_of(html, "raw epoll"), "<td>1.00x</td>")) << row_of(html, "raw epoll");
  EXPECT_TRUE(contains(row_of(html, "sim (virtual time)"), "<td>0.1"))
      << row_of(html, "sim (virtual time)");
  const std::string asyncio = row_of(html, "asyncio (Python reference)");
  EXPECT_TRUE(contains(asyncio, "<td>19.") || contains(asyncio, "<td>20.") ||
              contains(asyncio, "<td>21."))
      << asyncio;
}

TEST_F(Page, ConformanceMatrixLinksRulesToTheirText) {
  const std::string html = make();
  EXPECT_TRUE(contains(html, "<a href=\"#rule-CB-ORD-03\">CB-ORD-03</a>"));
  EXPECT_TRUE(contains(html, "<dt id=\"rule-CB-ORD-03\">"));
  EXPECT_TRUE(contains(html, "Timers with equal deadlines run in order."));
  EXPECT_TRUE(contains(html, "class=\"compat\" title=\"libuv timers have 1 ms resolution\""));
  EXPECT_TRUE(contains(html, "no threads &lt;here&gt;"));  // Escaped.
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
