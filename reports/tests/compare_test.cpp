#include "reports/compare.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using reports::Verdict;

reports::RunFile fixture(const std::string& name) {
  return reports::load_run_file(std::string(LOOPBENCH_REPORT_FIXTURES) + "/" + name);
}

// The six files of a side that ran in six processes (fixtures/processes/).
std::vector<reports::RunFile> processes(const std::string& prefix) {
  std::vector<reports::RunFile> runs;
  for (int index = 1; index <= 6; ++index) {
    runs.push_back(fixture("processes/" + prefix + "-" + std::to_string(index) + ".json"));
  }
  return runs;
}

// The repetitions of all `runs` as if one process had made them.
reports::RunFile pooled(const std::vector<reports::RunFile>& runs) {
  reports::RunFile all = runs.front();
  for (std::size_t i = 1; i < runs.size(); ++i) {
    for (std::size_t b = 0; b < all.benchmarks.size(); ++b) {
      const auto& more = runs[i].benchmarks.at(b).real_ns;
      all.benchmarks[b].real_ns.insert(all.benchmarks[b].real_ns.end(), more.begin(), more.end());
    }
  }
  return all;
}

// Makes one process's first benchmark (callback_chain/epoll) `factor` times slower.
void slow_down(reports::RunFile& process, double factor) {
  for (double& ns : process.benchmarks.at(0).real_ns) ns *= factor;
}

const reports::Comparison& find(const std::vector<reports::Comparison>& all,
                                const std::string& name) {
  for (const auto& c : all) {
    if (c.name == name) return c;
  }
  throw std::runtime_error("no comparison for " + name);
}

TEST(Compare, SameDistributionIsNoChange) {
  const auto result = reports::compare({fixture("aa_base.json")}, {fixture("aa_new.json")}, {});
  ASSERT_EQ(result.size(), 6u);
  for (const auto& c : result) {
    EXPECT_EQ(c.verdict, Verdict::no_change) << c.name;
    EXPECT_EQ(c.base_repetitions, 12u);
  }
  EXPECT_FALSE(reports::any_regression(result));
}

TEST(Compare, TenPercentShiftOverTwelveRepetitionsIsFlagged) {
  const auto result =
      reports::compare({fixture("aa_base.json")}, {fixture("shift10_new.json")}, {});
  const auto& slowed = find(result, "callback_chain/epoll/n=1000/manual_time");
  EXPECT_EQ(slowed.verdict, Verdict::slower);
  EXPECT_NEAR(slowed.change, 0.10, 0.04);
  EXPECT_LT(slowed.p_value, 1e-4);
  for (const auto& c : result) {
    if (&c != &slowed) {
      EXPECT_EQ(c.verdict, Verdict::no_change) << c.name;
    }
  }
  EXPECT_TRUE(reports::any_regression(result));
}

TEST(Compare, TheSameShiftTheOtherWayIsFaster) {
  const auto result =
      reports::compare({fixture("shift10_new.json")}, {fixture("aa_base.json")}, {});
  EXPECT_EQ(find(result, "callback_chain/epoll/n=1000/manual_time").verdict, Verdict::faster);
  EXPECT_FALSE(reports::any_regression(result));
}

TEST(Compare, AThresholdAboveTheShiftHidesIt) {
  reports::CompareOptions options;
  options.threshold = 0.20;
  const auto result =
      reports::compare({fixture("aa_base.json")}, {fixture("shift10_new.json")}, options);
  EXPECT_FALSE(reports::any_regression(result));
}

TEST(Compare, MismatchedBenchmarkSetsAreReported) {
  const auto result =
      reports::compare({fixture("aa_base.json")}, {fixture("mismatched_new.json")}, {});
  EXPECT_EQ(find(result, "callback_chain/uv/n=1000/manual_time").verdict, Verdict::only_in_base);
  const auto reverse =
      reports::compare({fixture("mismatched_new.json")}, {fixture("aa_base.json")}, {});
  EXPECT_EQ(find(reverse, "callback_chain/uv/n=1000/manual_time").verdict, Verdict::only_in_new);
  const std::string table = reports::format_table(result, false);
  EXPECT_NE(table.find("only in base"), std::string::npos) << table;
}

TEST(Compare, MarkdownTableHasOneRowPerBenchmark) {
  const auto result =
      reports::compare({fixture("aa_base.json")}, {fixture("shift10_new.json")}, {});
  const std::string table = reports::format_table(result, true);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 2 + 6);
  EXPECT_NE(table.find("| callback_chain/epoll/n=1000/manual_time |"), std::string::npos);
  EXPECT_NE(table.find("SLOWER"), std::string::npos);
}

TEST(CompareByProcess, AShiftBetweenProcessesIsNoChange) {
  const auto result = reports::compare(processes("base"), processes("aa-new"), {});
  ASSERT_EQ(result.size(), 3u);
  for (const auto& c : result) {
    EXPECT_EQ(c.verdict, Verdict::no_change) << c.name;
    EXPECT_EQ(c.unit, reports::Unit::process);
    EXPECT_EQ(c.base_processes, 6u);
    EXPECT_EQ(c.base_repetitions, 18u);
    EXPECT_GT(c.p_value, 0.1) << c.name;
  }
  // The same repetitions taken as independent samples: every benchmark looks
  // significantly slower (the processes' luck, about 3%, is all the test
  // sees), which is what the per-process unit is for.
  const auto as_repetitions =
      reports::compare({pooled(processes("base"))}, {pooled(processes("aa-new"))}, {});
  for (const auto& c : as_repetitions) {
    EXPECT_EQ(c.unit, reports::Unit::repetition);
    EXPECT_LT(c.p_value, 0.05) << c.name;  // Significant at the gate's alpha.
    EXPECT_GT(c.change, 0.02) << c.name;
  }
}

TEST(CompareByProcess, TenPercentShiftInEveryProcessIsFlagged) {
  const auto result = reports::compare(processes("base"), processes("shift10-new"), {});
  const auto& slowed = find(result, "callback_chain/epoll/n=1000/manual_time");
  EXPECT_EQ(slowed.verdict, Verdict::slower);
  EXPECT_NEAR(slowed.change, 0.10, 0.04);
  EXPECT_LT(slowed.p_value, 0.05);
  for (const auto& c : result) {
    if (&c != &slowed) {
      EXPECT_EQ(c.verdict, Verdict::no_change) << c.name;
    }
  }
  EXPECT_TRUE(reports::any_regression(result));
  const std::string table = reports::format_table(result, false);
  EXPECT_NE(table.find("6x3/6x3"), std::string::npos) << table;
}

TEST(CompareByProcess, MismatchedSetsAreReported) {
  const auto result = reports::compare(processes("base"), {fixture("mismatched_new.json")}, {});
  EXPECT_EQ(find(result, "callback_chain/uv/n=1000/manual_time").verdict, Verdict::only_in_base);
  EXPECT_EQ(find(result, "gather/epoll/mode=flat,n=1000/manual_time").verdict,
            Verdict::only_in_new);
  const auto& shared = find(result, "callback_chain/epoll/n=1000/manual_time");
  EXPECT_EQ(shared.unit, reports::Unit::process);
  EXPECT_EQ(shared.new_processes, 1u);
  // One process against six cannot reach p < 0.05: nothing is flagged.
  EXPECT_EQ(shared.verdict, Verdict::no_change);
}

TEST(CompareByProcess, ABenchmarkMissingFromSomeProcessesUsesTheOthers) {
  std::vector<reports::RunFile> base = processes("base");
  base[0].benchmarks.erase(base[0].benchmarks.begin());  // callback_chain/epoll
  const auto result = reports::compare(base, processes("aa-new"), {});
  const auto& partial = find(result, "callback_chain/epoll/n=1000/manual_time");
  EXPECT_EQ(partial.base_processes, 5u);
  EXPECT_EQ(partial.base_repetitions, 15u);
  EXPECT_EQ(result.front().name, "callback_chain/uv/n=1000/manual_time");
}

TEST(CompareByProcess, AFailureInOneProcessFailsTheBenchmark) {
  std::vector<reports::RunFile> candidate = processes("aa-new");
  candidate[2].benchmarks[0].real_ns.clear();  // callback_chain/epoll
  candidate[2].benchmarks[0].error = "timeout: the run passed its deadline";
  const auto result = reports::compare(processes("base"), candidate, {});
  const auto& broken = find(result, "callback_chain/epoll/n=1000/manual_time");
  EXPECT_EQ(broken.verdict, Verdict::failed);
  EXPECT_EQ(broken.error, "new: timeout: the run passed its deadline");
  EXPECT_EQ(find(result, "callback_chain/uv/n=1000/manual_time").verdict, Verdict::no_change);
}

TEST(CompareByProcess, ADisturbedProcessIsLeftOut) {
  // One base process caught in a slow spell (35% slower) hides a 10% shift
  // in every new process from the test; left out, the shift shows.
  std::vector<reports::RunFile> base = processes("base");
  slow_down(base[3], 1.35);
  const std::string name = "callback_chain/epoll/n=1000/manual_time";
  const auto kept_all = reports::compare(base, processes("shift10-new"), {.disturbed = 0});
  EXPECT_EQ(find(kept_all, name).verdict, Verdict::no_change);
  EXPECT_GT(find(kept_all, name).p_value, 0.05);

  const auto result = reports::compare(base, processes("shift10-new"), {});
  const auto& slowed = find(result, name);
  EXPECT_EQ(slowed.verdict, Verdict::slower);
  EXPECT_EQ(slowed.base_left_out, 1u);
  EXPECT_EQ(slowed.new_left_out, 0u);
  EXPECT_EQ(slowed.base_processes, 6u);  // Still counted as run.
  const std::string table = reports::format_table(result, false);
  EXPECT_NE(table.find("6x3/6x3       1/0  SLOWER"), std::string::npos) << table;
  EXPECT_EQ(find(result, "callback_chain/uv/n=1000/manual_time").base_left_out, 0u);
}

TEST(CompareByProcess, ASlowdownInMostProcessesIsNotLeftOut) {
  // Five of six new processes 30% slower: that is the build, not a spell.
  // Leaving them out would leave one process, which cannot be flagged.
  std::vector<reports::RunFile> candidate = processes("aa-new");
  for (std::size_t i = 1; i < candidate.size(); ++i) slow_down(candidate[i], 1.3);
  const auto result = reports::compare(processes("base"), candidate, {});
  const auto& slowed = find(result, "callback_chain/epoll/n=1000/manual_time");
  EXPECT_EQ(slowed.new_left_out, 0u);
  EXPECT_EQ(slowed.base_left_out, 0u);
  EXPECT_EQ(slowed.verdict, Verdict::slower);
}

TEST(Compare, BadFilesNameTheFileAndTheField) {
  try {
    fixture("wrong_type.json");
    FAIL() << "wrong_type.json was accepted";
  } catch (const reports::InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("wrong_type.json"), std::string::npos) << message;
    EXPECT_NE(message.find("benchmarks[3].real_time"), std::string::npos) << message;
  }
  EXPECT_THROW(fixture("truncated.json"), reports::InputError);
  EXPECT_THROW(fixture("no_such_file.json"), reports::InputError);
}

}  // namespace
