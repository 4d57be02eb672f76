// Instruction counts: the benchmarks whose work is all on the CPU run under
// Callgrind, Valgrind's simulation of the processor and its caches, which
// counts the instructions each measured run executes and the cache misses
// it would have on a fixed cache model. Unlike a time, such a count does not
// move with the load of the machine, the core the process got or the
// neighbours on the VM: the same build counts the same, so a change of 1% is
// a change of the code.
//
//   loopbench_bench --loopbench_instructions [Google Benchmark flags]
//
// lists the benchmarks that count repeatably (counts_repeat) and runs each in
// its own process under Callgrind (run_under_callgrind): what one benchmark
// leaves in the heap would otherwise move the addresses, and so the cache
// misses, of the next, and adding a benchmark would change the counts of
// those after it. Each process counts only between the client requests of
// InstructionCount, a fixed number of runs after the warm-up, and adds the
// counters `instructions` and `estimated_cycles` (per run) to the usual
// Google Benchmark JSON.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

namespace loopbench::bench {

// The measured runs per repetition, after the untimed warm-up run. Counts
// repeat exactly from the first run after the warm-up on, but the first
// differs from later ones (the allocator's state settles over two runs: 1.3%
// fewer instructions in malloc for gather's tree), so the number is fixed.
inline constexpr std::int64_t kCountedRuns = 1;

// Registers only the benchmarks that count repeatably, each with
// kCountedRuns iterations: for --loopbench_instructions, in the process that
// lists them and in each process under Callgrind.
void register_counted_benchmarks_only() noexcept;
bool counted_registration() noexcept;

// Whether the instruction count of a benchmark repeats exactly from run to
// run: the work is on the CPU and its path does not depend on how time
// passes. Benchmarks that wait for timers, sockets or other threads do not
// (bench/README.md says which and why).
bool counts_repeat(const std::string& benchmark_name);

// Runs each of `benchmarks` in its own process under Callgrind, with `args`
// (this process's argv) less the flags it replaces, prints one line per
// benchmark and writes the runs of all to --benchmark_out as one Google
// Benchmark JSON file. Returns 0, the first failing process's exit status,
// or 2 with one line on stderr when Valgrind cannot be started.
int run_under_callgrind(const std::vector<std::string>& args,
                        const std::vector<std::string>& benchmarks);

// --loopbench_callgrind_out=FILE, which run_under_callgrind passes to each
// process under Callgrind: Callgrind's dump file, read after every measured
// run. Exits with 2 when this process is not under Valgrind.
void count_instructions(const std::string& dump_file);
bool counting_instructions() noexcept;

// The counts of one benchmark's measured runs. Between start() and stop()
// Callgrind collects for this thread; stop() dumps what it collected and
// reads it back. Both do nothing unless instructions are counted.
class InstructionCount {
 public:
  void start() noexcept;
  void stop();
  // Adds `instructions` and `estimated_cycles`, per measured run.
  void publish(benchmark::State& state) const;

 private:
  double instructions_ = 0;
  double estimated_cycles_ = 0;
  std::int64_t runs_ = 0;
};

// What a process under Callgrind shows on stdout: one line per benchmark,
// its name and counts (or its error), instead of Google Benchmark's table.
class CountReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
};

}  // namespace loopbench::bench
