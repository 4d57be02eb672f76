// What `loopbench run` measures: warm-up runs done and not counted, the
// counted runs on one loop, a failed run ending the series, the spread and
// the comparison between backends. The scenario here counts its own runs.
#include "measure.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

// Every run of the counting scenario, in order: the loop it ran on.
std::vector<const loops::EventLoop*> g_runs;
// The run (1-based, warm-ups included) that ends in a timeout; 0: none.
std::size_t g_timeout_at = 0;

// Reports its own run number as its wall time, metric and latency sample,
// so that which runs were counted shows in the measurement.
scenarios::Result counting_run(loops::EventLoop& loop, const scenarios::Params&) {
  g_runs.push_back(&loop);
  const auto number = static_cast<std::int64_t>(g_runs.size());
  scenarios::Result result;
  result.wall_ns = number * 1000;
  result.metrics["run"] = static_cast<double>(number);
  result.latency_ns = {number};
  result.trace = {"run " + std::to_string(number)};
  if (g_runs.size() == g_timeout_at) {
    result.status = scenarios::Status::timeout;
    result.error = "deadline passed";
  }
  return result;
}

class Measure : public ::testing::Test {
 protected:
  void SetUp() override {
    g_runs.clear();
    g_timeout_at = 0;
    scenario_.name = "counting";
    scenario_.run = &counting_run;
    scenario_.metrics = {{"run", ""}};
  }
  cli::Measurement measure(std::size_t warmup_runs, std::size_t repetitions) {
    return cli::measure(scenario_, "sim", scenario_.defaults(), warmup_runs, repetitions);
  }
  scenarios::Scenario scenario_;
};

TEST_F(Measure, WarmUpRunsComeFirstAndAreNotCounted) {
  const cli::Measurement m = measure(2, 3);
  ASSERT_TRUE(m.ok()) << m.last.error;
  EXPECT_EQ(g_runs.size(), 5U);
  EXPECT_EQ(m.wall_ns, (std::vector<std::int64_t>{3000, 4000, 5000}));
  ASSERT_EQ(m.metrics.size(), 3U);
  EXPECT_EQ(m.metrics[0].at("run"), 3);
  EXPECT_EQ(m.latency_ns, (std::vector<std::int64_t>{3, 4, 5}));
  EXPECT_EQ(m.last.trace, std::vector<std::string>{"run 5"});
  EXPECT_EQ(m.warmup_runs, 2U);
}

// As in the benchmarks: the counted runs reuse what the warm-up allocated.
TEST_F(Measure, EveryRunOfABackendIsOnOneLoop) {
  measure(1, 4);
  ASSERT_EQ(g_runs.size(), 5U);
  for (const auto* loop : g_runs) EXPECT_EQ(loop, g_runs.front());
}

TEST_F(Measure, ASingleColdRunIsOneRun) {
  const cli::Measurement m = measure(0, 1);
  EXPECT_EQ(g_runs.size(), 1U);
  EXPECT_EQ(m.wall_ns, std::vector<std::int64_t>{1000});
}

TEST_F(Measure, AFailedRunEndsTheSeriesAndSaysWhichItWas) {
  g_timeout_at = 4;
  const cli::Measurement m = measure(1, 10);
  EXPECT_FALSE(m.ok());
  EXPECT_EQ(g_runs.size(), 4U);
  EXPECT_EQ(m.wall_ns.size(), 2U);
  EXPECT_EQ(m.failed_in, "run 3 of 10");
  EXPECT_EQ(m.last.status, scenarios::Status::timeout);
  const std::string text = cli::to_text(scenario_, m, false);
  EXPECT_NE(text.find("sim (virtual time): timeout in run 3 of 10: deadline passed"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("    run 4\n"), std::string::npos) << text;  // A failure shows its trace.
}

TEST_F(Measure, AFailedWarmUpIsReportedToo) {
  g_timeout_at = 1;
  const cli::Measurement m = measure(1, 10);
  EXPECT_FALSE(m.ok());
  EXPECT_EQ(m.failed_in, "warm-up run 1 of 1");
  EXPECT_TRUE(m.wall_ns.empty());
}

TEST_F(Measure, ALoopThatCannotBeMadeIsAFailedRun) {
  const cli::Measurement m =
      cli::measure(scenario_, "no-such-backend", scenario_.defaults(), 1, 10);
  EXPECT_FALSE(m.ok());
  EXPECT_EQ(m.failed_in, "making the loop");
  EXPECT_TRUE(g_runs.empty());
}

TEST_F(Measure, TheTextGivesMedianSpreadAndRangeInReadableUnits) {
  const cli::Measurement m = measure(1, 3);  // Counted: 2, 3 and 4 µs.
  const std::string text = cli::to_text(scenario_, m, false);
  EXPECT_NE(text.find("3 runs after 1 warm-up\n"), std::string::npos) << text;
  EXPECT_NE(text.find("time per run  3.00 µs ± 1.00 µs (median ± MAD), range 2.00 µs … 4.00 µs"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("latency       3 samples: min 2 ns, p50 3 ns"), std::string::npos) << text;
  EXPECT_EQ(text.find("trace"), std::string::npos) << text;  // Only when asked for.
  EXPECT_NE(cli::to_text(scenario_, m, true).find("    run 4\n"), std::string::npos);
}

TEST(Spread, IsMedianMadAndRange) {
  const cli::Spread spread = cli::spread_of({10, 12, 11, 30, 9});
  EXPECT_EQ(spread.median, 11);
  EXPECT_EQ(spread.mad, 1);  // |deviations| 1, 1, 0, 19, 2.
  EXPECT_EQ(spread.min, 9);
  EXPECT_EQ(spread.max, 30);
}

cli::Measurement timed(const std::string& backend, std::vector<std::int64_t> wall_ns,
                       bool real_time = true) {
  cli::Measurement m;
  m.backend = backend;
  m.real_time = real_time;
  m.wall_ns = std::move(wall_ns);
  return m;
}

TEST(Comparison, TheFastestMedianAgainstEachOther) {
  const std::string text =
      cli::comparison_text({timed("asio", {180, 170, 190}), timed("uv", {100, 90, 110}),
                            timed("epoll", {300, 290, 310})});
  EXPECT_EQ(text,
            "Summary (median time per run)\n"
            "  uv ran\n"
            "    1.80 ± 0.21 times faster than asio\n"
            "    3.00 ± 0.32 times faster than epoll\n");
}

TEST(Comparison, LeavesOutFailedAndVirtualTimeBackends) {
  cli::Measurement failed = timed("uring", {});
  failed.last.status = scenarios::Status::error;
  EXPECT_EQ(cli::comparison_text({timed("uv", {100}), failed, timed("sim", {1}, false)}), "");
  EXPECT_NE(
      cli::comparison_text({timed("uv", {100}), timed("sim", {1}, false), timed("asio", {200})})
          .find("2.00 ± 0.00 times faster than asio"),
      std::string::npos);
}

}  // namespace
