// The compare gate: per benchmark, is NEW faster, slower or unchanged
// against BASE? Files measure one of two things (their context says which):
//
// Time: each run's wall time (the benchmark's manual time), or the CPU time
// of the thread that ran it, which does not grow while the process waits
// for a core on a loaded machine. A change counts only when it is both significant (Mann-Whitney
// U over the times, p < alpha) and large enough to matter (the shift is at
// least the threshold), so that noise on a shared machine neither passes as
// a change nor hides a real one behind a p-value.
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
// processes and the sides kept can still reach p < alpha. When a side would
// keep fewer, its slowness is not a spell but the build, and every process
// counts.
//
// Instruction counts (loopbench_bench --loopbench_instructions, under
// Callgrind). The counts of a fixed run repeat exactly, so there is no test:
// a change of the instructions or of the estimated cycles by at least the
// count threshold is a change.
//
// What fails the gate: a benchmark judged slower, or one that BASE ran and
// NEW did not (it failed, timed out, or is missing). A benchmark judged
// slower on time can be measured again in fresh processes (`confirm`):
// it then fails the gate only if the second measurement agrees, which
// squares the rate of false alarms.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reports/bench_json.hpp"

namespace reports {

// Which time of each run a comparison of times judges.
enum class Clock { wall, cpu };

struct CompareOptions {
  Clock clock = Clock::wall;
  double threshold = 0.05;  // Time: the smallest relative change that counts.
  double alpha = 0.05;      // The significance level of the Mann-Whitney test.
  // Processes slower than their side's fastest by more than this fraction are
  // left out as disturbed (process unit only); 0 keeps every process.
  double disturbed = 0.15;
  double count_threshold = 0.01;  // Instruction counts: the smallest relative change.
};

// What the files of a comparison measured.
enum class Measure { time, instructions };

// What a file measured: instruction counts when its context says
// "loopbench_mode": "instructions", else times. Throws InputError for a
// mistyped or unknown mode.
Measure measure_of(const RunFile& file);

// What the Mann-Whitney test counts as one sample.
enum class Unit { repetition, process };

// In the order a table lists them: what fails the gate first.
enum class Verdict {
  slower,          // Fails the gate.
  failed_in_new,   // Fails the gate: BASE ran it, NEW failed or timed out.
  missing_in_new,  // Fails the gate: BASE ran it, NEW has no such benchmark.
  cannot_flag,     // So few samples that no p-value can fall below alpha.
  not_confirmed,   // Slower at first, not in the confirming measurement.
  faster,
  failed_in_base,  // BASE failed, NEW did not: nothing to compare with.
  only_in_new,
  failed_in_both,  // A combination that cannot run (threads on a virtual clock, say).
  no_change,
};
const char* to_string(Verdict verdict) noexcept;
bool fails_gate(Verdict verdict) noexcept;

// The second measurement of a benchmark judged slower.
struct Confirmation {
  Verdict verdict = Verdict::no_change;  // Its own verdict.
  double change = 0;
  double p_value = 1;
};

struct Comparison {
  std::string name;
  Measure measure = Measure::time;
  Verdict verdict = Verdict::no_change;
  // Time: the median of the test's samples in ns (of the repetitions, or of
  // the per-process medians of the processes that count), on the options'
  // clock. Instructions: the median count per run.
  double base_median = 0;
  double new_median = 0;
  // Time: the Hodges-Lehmann shift of new from base over the base median,
  // judged against the threshold. Instructions: new / base - 1.
  double change = 0;
  // Instructions: the estimated cycles (from the simulated cache misses),
  // new / base - 1, judged like `change`.
  double cycles_change = 0;
  double p_value = 1;
  // The smallest p-value the sample sizes allow; at or above alpha the
  // verdict is cannot_flag.
  double smallest_p = 0;
  Unit unit = Unit::repetition;
  std::size_t base_processes = 0;  // The files of the side that hold the benchmark.
  std::size_t new_processes = 0;
  std::size_t base_repetitions = 0;  // Over all those processes.
  std::size_t new_repetitions = 0;
  std::size_t base_left_out = 0;  // Processes left out as disturbed.
  std::size_t new_left_out = 0;
  std::string error;  // A failed verdict: why a run has no times.
  std::optional<Confirmation> confirmation;

  // new_median / base_median (0 without a base median).
  double ratio() const noexcept { return base_median > 0 ? new_median / base_median : 0; }
};

// Every benchmark of either side, in the order the base files first name
// them, then those only in NEW. `base` and `candidate` hold one file per
// process; the process is the unit unless both hold exactly one. Throws
// InputError when the files do not all measure the same thing.
std::vector<Comparison> compare(const std::vector<RunFile>& base,
                                const std::vector<RunFile>& candidate,
                                const CompareOptions& options);

// Judges every benchmark that `comparisons` found slower on time again,
// on a second measurement in fresh processes: it stays slower only if that
// measurement finds it slower too (else not_confirmed, or whatever failure
// the second measurement shows). A slower benchmark the second measurement
// lacks stays slower.
void confirm(std::vector<Comparison>& comparisons, const std::vector<RunFile>& base,
             const std::vector<RunFile>& candidate, const CompareOptions& options);

bool fails_gate(const std::vector<Comparison>& comparisons);

// A Google Benchmark --benchmark_filter that matches exactly the benchmarks
// judged slower, for measuring them again; "" when there are none.
std::string slower_filter(const std::vector<Comparison>& comparisons);

// What the comparison could not do, one line each: benchmarks that cannot be
// flagged with these sample sizes and alpha, and one file per side (the
// repetitions of one process as the unit).
std::vector<std::string> setup_warnings(const std::vector<Comparison>& comparisons,
                                        const CompareOptions& options);

// One line: how many benchmarks got which verdict, on what measure (and
// clock), with
// which threshold, alpha, processes per side and processes left out.
std::string summary_line(const std::vector<Comparison>& comparisons, const CompareOptions& options);

// The summary line and the table, rows that fail the gate first: fixed-width
// text for a terminal, or GitHub Markdown (the rows of no change, and of
// benchmarks that failed on both sides, folded away in a <details> block).
std::string format_table(const std::vector<Comparison>& comparisons, const CompareOptions& options,
                         bool markdown);

}  // namespace reports
