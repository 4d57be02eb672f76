// What the scenario benchmarks and the raw-library baselines share: the
// parameter sets both run (so that every ratio compares the same work), the
// naming scheme, and Recorder, which turns the iterations of one benchmark
// into Google Benchmark counters.
//
// Names: "<scenario>/<backend>/<params>" for our scenarios and
// "baseline/<library>/<scenario>/<params>" for the baselines, where <params>
// is "key=value,..." in the text forms `loopbench run --set` reads. Runs that
// take long or much memory end in "/large" (skip them with
// --benchmark_filter=-/large); cold runs (--loopbench_cold) end in "/cold".
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "instructions.hpp"
#include "scenarios/scenario.hpp"

namespace loopbench::bench {

using namespace std::chrono_literals;

// --- Parameter sets ---------------------------------------------------------------------------

// The scenarios declare the parameter sets the benchmarks run
// (Scenario::bench_sets); the baselines run the same ones, read into these.

// timer_storm: n timers, deadlines in 1000 equal steps up to spread.
struct StormParams {
  std::int64_t n;
  std::chrono::nanoseconds spread;
};
inline constexpr std::int64_t kStormSteps = 1000;  // As in scenarios/timer_storm.cpp.
// Timer i's deadline, counted from the storm's start.
inline std::int64_t storm_offset_ns(const StormParams& p, std::int64_t i) {
  const std::int64_t step = i * kStormSteps / p.n + 1;
  return p.spread.count() * step / kStormSteps;
}

// parallel_sleeps: n sleepers at once; sleep_precision: n sleeps in a row.
struct SleepsParams {
  std::int64_t n;
  std::chrono::nanoseconds duration;
};

// tcp_echo: c connections on 127.0.0.1, each m round trips of an s-byte
// message, client and server in one thread.
struct EchoParams {
  std::int64_t connections;
  std::int64_t size;
  std::int64_t round_trips;
};

// --- Small sizes -----------------------------------------------------------------------------

// --loopbench_small divides the size parameter of every parameter set
// (Scenario::size_param: tasks, timers, items, rounds, round trips) by this,
// keeping at least 1, so that a run of every benchmark under the sanitizers
// takes a minute, not an hour.
inline constexpr std::int64_t kSmallDivisor = 100;

// The sizes registered: 1 for the scenarios' sets, kSmallDivisor for --loopbench_small.
struct Sizes {
  std::int64_t divisor = 1;

  std::int64_t count(std::int64_t full) const { return full / divisor > 0 ? full / divisor : 1; }
};

// One parameter set of a scenario at the registered sizes, as a benchmark runs it.
struct BenchParams {
  // The assignments, the size parameter divided; their values as the scenario reads them.
  std::vector<std::pair<std::string, std::string>> assignments;
  scenarios::Params values;
  bool large = false;
  bool baselines = true;  // The baselines run it too (BenchSet::baselines).

  // The <params> part of a benchmark's name: "n=1000,duration=1ms", or "defaults".
  std::string text() const;
};
// Every parameter set the benchmarks run of `scenario` (Scenario::benchmark_sets), at `sizes`.
std::vector<BenchParams> bench_params(const scenarios::Scenario& scenario, const Sizes& sizes);

// --- Names ------------------------------------------------------------------------------------

// "baseline/<library>/<scenario>/<params>[/large]".
std::string baseline_name(const std::string& library, const std::string& scenario,
                          const std::string& params, bool large);

// Applied to every benchmark: manual time in milliseconds, plus a "min"
// aggregate over repetitions (the least disturbed run, on a loaded machine);
// when counting instructions, kCountedRuns per repetition.
benchmark::internal::Benchmark* configure(benchmark::internal::Benchmark* b);

// CLOCK_MONOTONIC in nanoseconds: the clock every backend and baseline uses.
std::int64_t monotonic_ns() noexcept;
// total / n as a double, for the per-item metrics.
inline double per_item(std::int64_t total, std::int64_t n) {
  return static_cast<double>(total) / static_cast<double>(n);
}

// This thread's CPU time in nanoseconds.
std::int64_t thread_cpu_ns() noexcept;

// --- Peak memory ------------------------------------------------------------------------------

// Restarts the process's peak-RSS mark (Linux: "5" to /proc/self/clear_refs),
// so that peak_rss() afterwards covers only what ran since. Without that file
// the mark is the whole process's (getrusage).
void reset_peak_rss() noexcept;
double peak_rss_mb() noexcept;

// --- Baselines --------------------------------------------------------------------------------

// What one run of a baseline reports: its wall time, what items_per_s counts,
// its metrics and (optionally) its latency samples.
struct Outcome {
  std::int64_t wall_ns = 0;
  std::int64_t cpu_ns = 0;  // Filled by run_baseline.
  double items = 0;
  std::map<std::string, double> metrics;
  const std::vector<std::int64_t>* latency_ns = nullptr;
};

// --- Echo baselines -------------------------------------------------------------------------

// Owns a descriptor: closes it unless released. Throws (errno) for a failed
// call's -1.
class Fd {
 public:
  explicit Fd(int fd, const char* what) : fd_(fd) {
    if (fd_ < 0) {
      throw std::system_error(errno, std::generic_category(), what);
    }
  }
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// A connected TCP pair on 127.0.0.1, made with blocking calls (untimed set-up
// for the echo baselines): client and server end, both with TCP_NODELAY, as
// asyncio's transports set it. The caller owns both descriptors.
struct LoopbackConnection {
  int client;
  int server;
};
LoopbackConnection loopback_connection();

// The Outcome of one callback chain of n links, as every library reports it.
Outcome chain_outcome(std::int64_t n, std::int64_t wall_ns);

// The Outcome of one timer_storm run: the timers as items, the time taken to
// schedule them and the whole run's, and each timer's lateness as latency.
Outcome storm_outcome(const StormParams& p, std::int64_t schedule_ns, std::int64_t total_ns,
                      const std::vector<std::int64_t>& lateness_ns);

// The Outcome of one parallel_sleeps run: the sleepers as items, the cost per
// task beyond the sleep itself, and each sleeper's overshoot as latency.
Outcome sleeps_outcome(const SleepsParams& p, std::int64_t wall_ns,
                       const std::vector<std::int64_t>& overshoot_ns);

// The Outcome of one echo run: round trips as items, echoed megabytes per
// second (s bytes each way per round trip, counted once) and the round-trip
// times as latency samples.
Outcome echo_outcome(const EchoParams& p, std::int64_t wall_ns,
                     const std::vector<std::int64_t>& rtt_ns);

// --- tcp_echo on a readiness library ---------------------------------------------------------

// The socket work of the tcp_echo baselines on the readiness libraries
// (libev, libevent), written once; the library's loop and watchers are the
// subclass's. Each connection's two ends are non-blocking and on one loop. A
// round trip runs from the client's send of the message to the read that
// completes its echo; the server echoes whatever each read brings, reading
// again once that is sent. A send writes what the socket takes at once and
// leaves the rest to a writable watcher, started only then.
class ReadinessEcho {
 public:
  enum Side { kClient = 0, kServer = 1 };
  struct Connection {
    Fd ends[2];  // by Side
    std::string message;
    std::vector<char> echo;    // the client's reads
    std::vector<char> served;  // the server's reads, echoed
    std::size_t echo_received = 0;
    const char* unsent[2] = {nullptr, nullptr};  // by Side: what a send left
    std::size_t left[2] = {0, 0};
    std::int64_t remaining = 0;
    std::int64_t sent_at = 0;
    std::size_t index = 0;  // in connections(), for the subclass's watchers

    explicit Connection(LoopbackConnection ends);
    int fd(Side side) const noexcept { return ends[side].get(); }
  };

  explicit ReadinessEcho(EchoParams params);
  virtual ~ReadinessEcho() = default;
  ReadinessEcho(const ReadinessEcho&) = delete;
  ReadinessEcho& operator=(const ReadinessEcho&) = delete;

  // Runs every connection's round trips; returns the round-trip times.
  const std::vector<std::int64_t>& run();

 protected:
  std::vector<std::unique_ptr<Connection>>& connections() noexcept { return connections_; }

  // For the library's callbacks: `side` of `c` is readable, or writable.
  void on_readable(Connection& c, Side side);
  void on_writable(Connection& c, Side side);

  // Runs the loop until stop_loop(); the readable watchers of both ends are
  // started before the first run and stay so but for watch_served(false).
  virtual void run_loop() = 0;
  virtual void stop_loop() = 0;
  // Starts (or stops) the writable watcher of `side`, or the server's
  // readable one.
  virtual void watch_writable(Connection& c, Side side, bool on) = 0;
  virtual void watch_served(Connection& c, bool on) = 0;

 private:
  // Callbacks return into the library, so an error ends the run instead of throwing.
  void fail(const char* what, int error);
  // Sends what the socket takes now; returns false while some is left.
  bool write(Connection& c, Side side, const char* data, std::size_t size);
  void send(Connection& c);

  std::vector<std::unique_ptr<Connection>> connections_;
  EchoParams params_;
  std::vector<std::int64_t> rtt_ns_;
  std::int64_t active_ = 0;
  std::string error_;
};

// --- Counters ---------------------------------------------------------------------------------

// The figures of one benchmark's timed iterations, published as counters:
//  - every metric: its mean per iteration;
//  - items_per_s: items over wall time, summed over iterations;
//  - cpu_ns_per_item: this thread's CPU time per item, around the whole run
//    (setup and clean-up included). On a machine shared with other jobs the
//    wall time includes waiting for a core; this does not;
//  - p50_ns, p90_ns, p99_ns, p999_ns, max_ns, min_ns: exact nearest-rank
//    percentiles of the latency samples pooled over the iterations (the first
//    kMaxPooledSamples of them), and `samples`, how many were pooled;
//  - early_wakeups (when the samples are lateness, negative = early): the
//    total over all iterations, not a mean, so that one early wake-up shows;
//  - peak_rss_mb: the peak resident set since reset_peak_rss().
class Recorder {
 public:
  static constexpr std::size_t kMaxPooledSamples = std::size_t{1} << 23;

  explicit Recorder(bool samples_are_lateness) : lateness_(samples_are_lateness) {}

  void add(std::int64_t wall_ns, std::int64_t cpu_ns, double items,
           const std::map<std::string, double>& metrics,
           const std::vector<std::int64_t>& latency_ns);
  void add(const Outcome& outcome) {
    add(outcome.wall_ns, outcome.cpu_ns, outcome.items, outcome.metrics,
        outcome.latency_ns != nullptr ? *outcome.latency_ns : kNoSamples);
  }
  void publish(benchmark::State& state) const;

 private:
  static inline const std::vector<std::int64_t> kNoSamples{};

  bool lateness_;
  std::int64_t iterations_ = 0;
  std::int64_t wall_ns_ = 0;
  std::int64_t cpu_ns_ = 0;
  double items_ = 0;
  std::int64_t early_ = 0;
  std::map<std::string, double> metric_sums_;
  std::vector<std::int64_t> samples_;
};

// Registers a baseline (configured as above), unless instructions are
// counted and its count does not repeat. A system error escaping `body`
// (a failed epoll_create1, say) ends the benchmark with SkipWithError.
void register_baseline(const std::string& name, std::function<void(benchmark::State&)> body);

// The body of a baseline benchmark: `run_once()` (returning an Outcome) once
// untimed, to warm up, then once per iteration (counted, when instructions
// are), with the outcomes as counters.
template <class RunOnce>
void run_baseline(benchmark::State& state, bool samples_are_lateness, RunOnce&& run_once) {
  (void)run_once();
  Recorder recorder(samples_are_lateness);
  InstructionCount count;
  reset_peak_rss();
  // Google Benchmark's loop idiom; `_` is unused by design.
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    const std::int64_t cpu_start = thread_cpu_ns();
    count.start();
    Outcome outcome = run_once();
    count.stop();
    outcome.cpu_ns = thread_cpu_ns() - cpu_start;
    state.SetIterationTime(static_cast<double>(outcome.wall_ns) * 1e-9);
    recorder.add(outcome);
  }
  recorder.publish(state);
  count.publish(state);
}

}  // namespace loopbench::bench
