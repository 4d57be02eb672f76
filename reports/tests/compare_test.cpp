#include "reports/compare.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

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
  EXPECT_FALSE(reports::fails_gate(result));
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
  EXPECT_TRUE(reports::fails_gate(result));
}

TEST(Compare, TheSameShiftTheOtherWayIsFaster) {
  const auto result =
      reports::compare({fixture("shift10_new.json")}, {fixture("aa_base.json")}, {});
  EXPECT_EQ(find(result, "callback_chain/epoll/n=1000/manual_time").verdict, Verdict::faster);
  EXPECT_FALSE(reports::fails_gate(result));
}

TEST(Compare, AThresholdAboveTheShiftHidesIt) {
  reports::CompareOptions options;
  options.threshold = 0.20;
  const auto result =
      reports::compare({fixture("aa_base.json")}, {fixture("shift10_new.json")}, options);
  EXPECT_FALSE(reports::fails_gate(result));
}

// A benchmark BASE ran and NEW lacks fails the gate; one only NEW has does not.
TEST(Compare, MissingInNewFailsTheGate) {
  const auto result =
      reports::compare({fixture("aa_base.json")}, {fixture("mismatched_new.json")}, {});
  EXPECT_EQ(find(result, "callback_chain/uv/n=1000/manual_time").verdict, Verdict::missing_in_new);
  EXPECT_TRUE(reports::fails_gate(result));
  const std::string table = reports::format_table(result, {}, false);
  EXPECT_NE(table.find("MISSING in new"), std::string::npos) << table;
  const auto reverse =
      reports::compare({fixture("mismatched_new.json")}, {fixture("aa_base.json")}, {});
  EXPECT_EQ(find(reverse, "callback_chain/uv/n=1000/manual_time").verdict, Verdict::only_in_new);
  EXPECT_FALSE(reports::fails_gate(reverse));
}

// A run that failed or timed out in NEW fails the gate; one that failed in
// BASE has nothing to be compared with, and does not.
TEST(Compare, FailedInNewFailsTheGate) {
  const std::string name = "callback_chain/epoll/n=1000/manual_time";
  const auto result = reports::compare({fixture("aa_base.json")}, {fixture("failed_new.json")}, {});
  EXPECT_EQ(find(result, name).verdict, Verdict::failed_in_new);
  EXPECT_EQ(find(result, name).error, "new: timeout: the run passed its 30s deadline");
  EXPECT_TRUE(reports::fails_gate(result));
  const auto reverse =
      reports::compare({fixture("failed_new.json")}, {fixture("aa_base.json")}, {});
  EXPECT_EQ(find(reverse, name).verdict, Verdict::failed_in_base);
  EXPECT_FALSE(reports::fails_gate(reverse));
  // Failed on both sides (a combination a backend cannot run): folded away.
  const auto both =
      reports::compare({fixture("failed_new.json")}, {fixture("failed_new.json")}, {});
  EXPECT_EQ(find(both, name).verdict, Verdict::failed_in_both);
  EXPECT_EQ(find(both, name).error, "timeout: the run passed its 30s deadline");
  EXPECT_FALSE(reports::fails_gate(both));
  const std::string markdown = reports::format_table(both, {}, true);
  EXPECT_NE(markdown.find("<details><summary>5 with no change, 1 failed in both</summary>"),
            std::string::npos)
      << markdown;
}

// The summary line comes first; then what fails the gate, SLOWER first; p to
// three significant digits, the ratio of the medians beside the shift.
TEST(Compare, TableLeadsWithTheSummaryAndTheSlowerRows) {
  // Base and new the other way round: callback_chain/epoll, the files'
  // first benchmark, is faster; the last one is made 30% slower, and the
  // one before it fails in NEW.
  auto files = fixture("aa_base.json");
  for (double& ns : files.benchmarks.at(5).real_ns) ns *= 1.3;  // gather/epoll n=1000
  files.benchmarks.at(4).real_ns.clear();                       // gather/epoll n=100
  files.benchmarks.at(4).error = "error: boom";
  const auto result = reports::compare({fixture("shift10_new.json")}, {files}, {});
  const std::string table = reports::format_table(result, {}, false);
  const auto first_line = table.substr(0, table.find('\n'));
  EXPECT_EQ(first_line,
            "6 benchmarks on wall time: 1 SLOWER, 1 FAILED in new, 1 faster, 3 no change; "
            "threshold 5%, alpha 0.05; 1 vs 1 process (the repetitions are the samples)");
  const auto header_end = table.find('\n', table.find("verdict"));
  const auto slower_row = table.find("\ngather/epoll/mode=flat,n=1000/manual_time ");
  const auto failed_row = table.find("\ngather/epoll/mode=flat,n=100/manual_time ");
  const auto faster_row = table.find("\ncallback_chain/epoll/n=1000/manual_time ");
  EXPECT_EQ(slower_row, header_end) << table;
  EXPECT_EQ(failed_row, table.find('\n', slower_row + 1)) << table;
  EXPECT_EQ(faster_row, table.find('\n', failed_row + 1)) << table;
  const auto& faster = find(result, "callback_chain/epoll/n=1000/manual_time");
  char p[32];
  std::snprintf(p, sizeof p, "%#.3g", faster.p_value);
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.3f", faster.ratio());
  const std::string row =
      table.substr(faster_row + 1, table.find('\n', faster_row + 1) - faster_row);
  EXPECT_NE(row.find(std::string(" ") + ratio + " "), std::string::npos) << row;
  EXPECT_NE(row.find(std::string("  ") + p + "  "), std::string::npos) << row;
  EXPECT_EQ(std::string(p), "7.40e-07");  // Three digits, the zero kept.
}

TEST(Compare, MarkdownFoldsTheRowsOfNoChange) {
  const auto result =
      reports::compare({fixture("aa_base.json")}, {fixture("shift10_new.json")}, {});
  const std::string table = reports::format_table(result, {}, true);
  const auto details = table.find("<details><summary>5 with no change</summary>");
  ASSERT_NE(details, std::string::npos) << table;
  EXPECT_LT(table.find("| callback_chain/epoll/n=1000/manual_time |"), details);
  EXPECT_GT(table.find("| callback_chain/uv/n=1000/manual_time |"), details);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 1 + 1 + 3 + 1 + 2 + 2 + 5 + 2);
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
  EXPECT_TRUE(reports::fails_gate(result));
  const std::string table = reports::format_table(result, {}, false);
  EXPECT_NE(table.find("6x3/6x3"), std::string::npos) << table;
}

TEST(CompareByProcess, MismatchedSetsAreReported) {
  const auto result = reports::compare(processes("base"), {fixture("mismatched_new.json")}, {});
  EXPECT_EQ(find(result, "callback_chain/uv/n=1000/manual_time").verdict, Verdict::missing_in_new);
  EXPECT_EQ(find(result, "gather/epoll/mode=flat,n=1000/manual_time").verdict,
            Verdict::only_in_new);
  const auto& shared = find(result, "callback_chain/epoll/n=1000/manual_time");
  EXPECT_EQ(shared.unit, reports::Unit::process);
  EXPECT_EQ(shared.new_processes, 1u);
  // One process against six cannot reach p < 0.05, and says so.
  EXPECT_EQ(shared.verdict, Verdict::cannot_flag);
  EXPECT_NEAR(shared.smallest_p, 2.0 / 7, 1e-12);
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
  EXPECT_EQ(broken.verdict, Verdict::failed_in_new);
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
  const std::string table = reports::format_table(result, {}, false);
  EXPECT_NE(table.find("6x3/6x3       1/0  SLOWER"), std::string::npos) << table;
  EXPECT_NE(table.find("left out as disturbed: 1 of 18 base and 0 of 18 new process medians"),
            std::string::npos)
      << table;
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

// The case: at 4 vs 4, leaving out the one disturbed base process
// would leave 3 vs 4, where the smallest possible p is 2 / 35 = 0.057; a 2x
// regression then read "no change". Below that floor nothing is left out.
TEST(CompareByProcess, NothingIsLeftOutBelowTheSizeThatCanFlag) {
  std::vector<reports::RunFile> base = processes("base");
  std::vector<reports::RunFile> candidate = processes("aa-new");
  base.resize(4);
  candidate.resize(4);
  slow_down(base[1], 1.3);
  for (auto& process : candidate) slow_down(process, 2.0);
  const auto result = reports::compare(base, candidate, {});
  const auto& doubled = find(result, "callback_chain/epoll/n=1000/manual_time");
  EXPECT_EQ(doubled.base_left_out, 0u);
  EXPECT_EQ(doubled.verdict, Verdict::slower);
  EXPECT_NEAR(doubled.p_value, 2.0 / 70, 1e-12);
  // At 6 vs 6 the same spell is left out: 5 vs 6 can still flag.
  std::vector<reports::RunFile> six = processes("base");
  slow_down(six[1], 1.3);
  EXPECT_EQ(find(reports::compare(six, processes("aa-new"), {}),
                 "callback_chain/epoll/n=1000/manual_time")
                .base_left_out,
            1u);
}

// Too few processes for alpha: its own verdict, whatever the data, and one
// warning for all such benchmarks.
TEST(CompareByProcess, ASetUpThatCannotFlagSaysSo) {
  std::vector<reports::RunFile> base = processes("base");
  std::vector<reports::RunFile> candidate = processes("shift10-new");
  base.resize(3);
  candidate.resize(3);
  for (auto& process : candidate) slow_down(process, 2.0);
  const auto three = reports::compare(base, candidate, {});
  for (const auto& c : three) {
    EXPECT_EQ(c.verdict, Verdict::cannot_flag) << c.name;
    EXPECT_NEAR(c.smallest_p, 0.1, 1e-12);
  }
  EXPECT_FALSE(reports::fails_gate(three));
  const auto warnings = reports::setup_warnings(three, {});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "3 of 3 benchmarks cannot be flagged: 3 vs 3 samples cannot reach p < 0.05 (the "
            "smallest possible p is 0.100); use at least 4 processes per side");
  // Six per side cannot reach alpha 0.001 either (smallest p 0.0022).
  reports::CompareOptions strict;
  strict.alpha = 0.001;
  const auto six = reports::compare(processes("base"), processes("shift10-new"), strict);
  EXPECT_EQ(find(six, "callback_chain/epoll/n=1000/manual_time").verdict, Verdict::cannot_flag);
  EXPECT_NE(reports::setup_warnings(six, strict).at(0).find("use at least 7 processes"),
            std::string::npos);
  // Enough processes: no warning.
  EXPECT_TRUE(
      reports::setup_warnings(reports::compare(processes("base"), processes("aa-new"), {}), {})
          .empty());
}

TEST(Compare, OneFilePerSideIsWarnedAbout) {
  const auto result = reports::compare({fixture("aa_base.json")}, {fixture("aa_new.json")}, {});
  const auto warnings = reports::setup_warnings(result, {});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("one file per side"), std::string::npos) << warnings[0];
}

// On a loaded machine a process waits for a core: its wall times grow, the
// CPU time of its thread does not. --clock cpu judges the latter.
TEST(CompareByProcess, TheCpuClockIgnoresWaitingForACore) {
  const std::string name = "callback_chain/epoll/n=1000/manual_time";
  std::vector<reports::RunFile> waited = processes("aa-new");
  for (auto& process : waited) {
    for (double& ns : process.benchmarks.at(0).real_ns) ns *= 1.3;
  }
  EXPECT_EQ(find(reports::compare(processes("base"), waited, {}), name).verdict, Verdict::slower);
  reports::CompareOptions cpu;
  cpu.clock = reports::Clock::cpu;
  const auto on_cpu = reports::compare(processes("base"), waited, cpu);
  EXPECT_EQ(find(on_cpu, name).verdict, Verdict::no_change);
  EXPECT_NE(reports::summary_line(on_cpu, cpu).find("benchmarks on CPU time"), std::string::npos);
  // More work shows on both clocks.
  EXPECT_EQ(find(reports::compare(processes("base"), processes("shift10-new"), cpu), name).verdict,
            Verdict::slower);
}

// A slower verdict is measured again: it fails the gate only if the second
// measurement finds it slower too.
TEST(CompareByProcess, ConfirmationKeepsOnlyWhatShowsTwice) {
  const std::string name = "callback_chain/epoll/n=1000/manual_time";
  auto first = reports::compare(processes("base"), processes("shift10-new"), {});
  ASSERT_EQ(find(first, name).verdict, Verdict::slower);
  EXPECT_EQ(reports::slower_filter(first), "^(callback_chain/epoll/n=1000/manual_time)$");

  auto refuted = first;
  reports::confirm(refuted, processes("base"), processes("aa-new"), {});
  EXPECT_EQ(find(refuted, name).verdict, Verdict::not_confirmed);
  ASSERT_TRUE(find(refuted, name).confirmation.has_value());
  EXPECT_EQ(find(refuted, name).confirmation->verdict, Verdict::no_change);
  EXPECT_FALSE(reports::fails_gate(refuted));
  EXPECT_NE(reports::format_table(refuted, {}, false).find("not confirmed (re-run: no change, "),
            std::string::npos);

  auto upheld = first;
  reports::confirm(upheld, processes("base"), processes("shift10-new"), {});
  EXPECT_EQ(find(upheld, name).verdict, Verdict::slower);
  EXPECT_EQ(find(upheld, name).confirmation->verdict, Verdict::slower);
  EXPECT_TRUE(reports::fails_gate(upheld));

  // A failure in the second measurement fails the gate as such.
  std::vector<reports::RunFile> broken = processes("shift10-new");
  broken[4].benchmarks[0].real_ns.clear();
  broken[4].benchmarks[0].error = "timeout: the run passed its deadline";
  auto failed = first;
  reports::confirm(failed, processes("base"), broken, {});
  EXPECT_EQ(find(failed, name).verdict, Verdict::failed_in_new);
  EXPECT_TRUE(reports::fails_gate(failed));

  // Not measured again: it stays slower.
  std::vector<reports::RunFile> without = processes("aa-new");
  std::vector<reports::RunFile> base_without = processes("base");
  for (auto* side : {&without, &base_without}) {
    for (auto& process : *side) process.benchmarks.erase(process.benchmarks.begin());
  }
  auto unmeasured = first;
  reports::confirm(unmeasured, base_without, without, {});
  EXPECT_EQ(find(unmeasured, name).verdict, Verdict::slower);
  EXPECT_FALSE(find(unmeasured, name).confirmation.has_value());
}

TEST(Compare, TheSlowerFilterEscapesEveryName) {
  std::vector<reports::Comparison> comparisons(3);
  comparisons[0].name = "a/b/x=1.5,y=(2)/manual_time";
  comparisons[0].verdict = Verdict::slower;
  comparisons[1].name = "c/d/n=1/manual_time";
  comparisons[1].verdict = Verdict::no_change;
  comparisons[2].name = "e|f*+?/[1]{2}^$\\";
  comparisons[2].verdict = Verdict::slower;
  EXPECT_EQ(reports::slower_filter(comparisons),
            "^(a/b/x=1\\.5,y=\\(2\\)/manual_time|e\\|f\\*\\+\\?/\\[1\\]\\{2\\}\\^\\$\\\\)$");
  comparisons[0].verdict = Verdict::faster;
  comparisons[2].verdict = Verdict::failed_in_new;
  EXPECT_EQ(reports::slower_filter(comparisons), "");
}

// Instruction counts: no test, a plain relative threshold (1% by default) on
// the instructions and on the estimated cycles.
TEST(CompareCounts, APlainThresholdOnInstructionsAndCycles) {
  const std::string name = "callback_chain/epoll/n=1000/manual_time";
  const auto same = reports::compare({fixture("instructions/base.json")},
                                     {fixture("instructions/aa-new.json")}, {});
  for (const auto& c : same) {
    EXPECT_EQ(c.measure, reports::Measure::instructions);
    EXPECT_EQ(c.verdict, Verdict::no_change) << c.name;
    EXPECT_EQ(c.change, 0);
  }
  EXPECT_TRUE(reports::setup_warnings(same, {}).empty());  // One file per side is right here.

  const auto plus2 = reports::compare({fixture("instructions/base.json")},
                                      {fixture("instructions/plus2-new.json")}, {});
  EXPECT_EQ(find(plus2, name).verdict, Verdict::slower);
  EXPECT_NEAR(find(plus2, name).change, 0.02, 1e-5);
  EXPECT_NEAR(find(plus2, name).cycles_change, 0.017, 1e-5);
  EXPECT_EQ(std::count_if(plus2.begin(), plus2.end(),
                          [](const auto& c) { return c.verdict != Verdict::no_change; }),
            1);
  const std::string table = reports::format_table(plus2, {}, false);
  EXPECT_EQ(table.substr(0, table.find('\n')),
            "3 benchmarks on instruction counts: 1 SLOWER, 0 faster, 2 no change; threshold 1% "
            "on instructions and estimated cycles; 1 vs 1 process");
  const std::string row = table.substr(table.find("\ncallback_chain/epoll/"));
  EXPECT_EQ(row.substr(0, row.find('\n', 1)),
            "\ncallback_chain/epoll/n=1000/manual_time               151234            154259  "
            "+2.00%       +1.70%  SLOWER");

  reports::CompareOptions loose;
  loose.count_threshold = 0.025;
  EXPECT_FALSE(reports::fails_gate(reports::compare(
      {fixture("instructions/base.json")}, {fixture("instructions/plus2-new.json")}, loose)));
  EXPECT_EQ(find(reports::compare({fixture("instructions/plus2-new.json")},
                                  {fixture("instructions/base.json")}, {}),
                 name)
                .verdict,
            Verdict::faster);

  // The estimated cycles alone count too, either way.
  auto cycles = fixture("instructions/aa-new.json");
  cycles.benchmarks[1].counters["estimated_cycles"][0] *= 1.011;
  EXPECT_EQ(reports::compare({fixture("instructions/base.json")}, {cycles}, {})[1].verdict,
            Verdict::slower);
  cycles.benchmarks[1].counters["estimated_cycles"][0] *= 0.98 / 1.011;
  EXPECT_EQ(reports::compare({fixture("instructions/base.json")}, {cycles}, {})[1].verdict,
            Verdict::faster);
  // Just below the threshold is no change.
  cycles.benchmarks[1].counters["estimated_cycles"][0] *= 1.0095 / 0.98;
  EXPECT_EQ(reports::compare({fixture("instructions/base.json")}, {cycles}, {})[1].verdict,
            Verdict::no_change);
}

TEST(CompareCounts, ARunWithoutCountsFailsAndMixedFilesAreRefused) {
  auto uncounted = fixture("instructions/aa-new.json");
  uncounted.benchmarks[0].counters.erase("instructions");
  const auto result = reports::compare({fixture("instructions/base.json")}, {uncounted}, {});
  EXPECT_EQ(result[0].verdict, Verdict::failed_in_new);
  EXPECT_EQ(result[0].error, "new: no instruction count in every repetition");
  try {
    reports::compare({fixture("instructions/base.json")}, {fixture("aa_new.json")}, {});
    FAIL() << "instruction counts were compared with wall times";
  } catch (const reports::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("aa_new.json: field context.loopbench_mode: time"),
              std::string::npos)
        << e.what();
  }
  auto mistyped = fixture("aa_new.json");
  mistyped.context["loopbench_mode"] = 3;
  EXPECT_THROW(reports::compare({fixture("aa_base.json")}, {mistyped}, {}), reports::InputError);
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
