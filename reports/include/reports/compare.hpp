// The compare gate: per benchmark, is NEW faster, slower or unchanged
// against BASE? A change counts only when it is both significant (Mann-Whitney
// U over the times, p < alpha) and large enough to matter (the medians differ
// by at least the threshold), so that noise on a shared
// machine neither passes as a change nor hides a real one behind a p-value.
//
// Each side is one or more files, one per process that ran the benchmarks.
// The repetitions of one process are not independent samples of a build's
// speed: where the heap and the stacks land, which core the process gets and
// what its neighbours do shift all of them together (the same binary measured
// 24 ms in one process and 32 ms in the next, 12 tight repetitions each).
// So when a side has several processes, the process is the unit: each
// process's median is one sample of the test. Only when both sides are a
// single file are the repetitions the unit, as a single pair offers nothing
// else; such a verdict cannot tell a process's luck from a change.
//
// A shared VM also has spells in which one core runs everything 10-50%
// slower for a few seconds; a process caught in one is slow throughout (on
// the 2-core CI VM, 6 of 40 processes pinned to one core, none on the other).
// Noise of that kind only ever adds time, so a process whose median exceeds
// its side's fastest by more than `disturbed` is left out as disturbed, on
// both sides alike, provided each side keeps at least two thirds of its
// processes. When a side would keep fewer, its slowness is not a spell but
// the build, and every process counts.
#pragma once

#include <string>
#include <vector>

#include "reports/bench_json.hpp"

namespace reports {

struct CompareOptions {
  double threshold = 0.05;  // The smallest relative change that counts.
  double alpha = 0.05;      // The significance level of the Mann-Whitney test.
  // Processes slower than their side's fastest by more than this fraction are
  // left out as disturbed (process unit only); 0 keeps every process.
  double disturbed = 0.15;
};

// What the Mann-Whitney test counts as one sample.
enum class Unit { repetition, process };

enum class Verdict { faster, slower, no_change, only_in_base, only_in_new, failed };
const char* to_string(Verdict verdict) noexcept;

struct Comparison {
  std::string name;
  Verdict verdict = Verdict::no_change;
  // The median of the test's samples: of the repetitions, or of the
  // per-process medians (of the processes that count) when the process is
  // the unit.
  double base_median_ns = 0;
  double new_median_ns = 0;
  // The Hodges-Lehmann shift of new from base over the base median: the
  // relative change, judged against the threshold.
  double change = 0;
  double p_value = 1;
  Unit unit = Unit::repetition;
  std::size_t base_processes = 0;  // The files of the side that hold the benchmark.
  std::size_t new_processes = 0;
  std::size_t base_repetitions = 0;  // Over all those processes.
  std::size_t new_repetitions = 0;
  std::size_t base_left_out = 0;  // Processes left out as disturbed.
  std::size_t new_left_out = 0;
  std::string error;  // Verdict::failed: why a run has no times.
};

// Every benchmark of either side, in the order the base files first name
// them, then those only in NEW. `base` and `candidate` hold one file per
// process; the process is the unit unless both hold exactly one.
std::vector<Comparison> compare(const std::vector<RunFile>& base,
                                const std::vector<RunFile>& candidate,
                                const CompareOptions& options);

bool any_regression(const std::vector<Comparison>& comparisons);

// The table: fixed-width text for a terminal, or GitHub Markdown.
std::string format_table(const std::vector<Comparison>& comparisons, bool markdown);

}  // namespace reports
