// Each scenario's behaviour on every available backend: traces, counts and
// generous bounds, never speed. Deadlines are well separated, so the traces
// are the same on every backend (and exact on virtual time). A trace that
// needs something to happen before a deadline gives it a second: on a loaded
// machine a process can stall for tens of milliseconds between any two
// iterations, so a window of 20 ms was once missed.
#include "scenarios/scenario.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "loops/loops.hpp"

namespace {

using namespace std::chrono_literals;
using scenarios::Result;
using scenarios::Status;
using Trace = std::vector<std::string>;

// Hang detection for a run, far above what any of these runs needs.
constexpr std::int64_t kHangNs = 10'000'000'000;
// How long after its deadline a run that was cut may end on a loaded machine.
constexpr auto kCutSlack = 5s;

class ScenarioTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    loop_ = loops::make_loop(GetParam());
    traits_ = loop_->backend().traits();
  }
  void TearDown() override {
    // Every run leaves the loop reusable: no task of the scenario survives it.
    EXPECT_EQ(loop_->pending_task_count(), 0U);
    loop_->close();
  }

  Result run(const std::string& name, const std::vector<std::string>& assignments) {
    const scenarios::Scenario* scenario = scenarios::find(name);
    EXPECT_NE(scenario, nullptr) << name;
    const auto start = std::chrono::steady_clock::now();
    Result result = scenarios::run(*scenario, *loop_, scenario->parse(assignments));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count(), kHangNs);
    EXPECT_EQ(result.scenario, name);
    EXPECT_EQ(result.backend, GetParam());
    return result;
  }

  static bool has_prefix(const Trace& trace, const std::string& prefix) {
    return std::any_of(trace.begin(), trace.end(),
                       [&](const std::string& line) { return line.rfind(prefix, 0) == 0; });
  }

  // What follows `prefix` in every line that starts with it ("3 sleepers"
  // for "pending 3 sleepers").
  static std::set<std::string> subjects(const Trace& trace, const std::string& prefix) {
    std::set<std::string> found;
    for (const std::string& line : trace) {
      if (line.rfind(prefix, 0) == 0) found.insert(line.substr(prefix.size()));
    }
    return found;
  }

  std::unique_ptr<loops::EventLoop> loop_;
  loops::BackendTraits traits_;
};

// --- parallel_sleeps ----------------------------------------------------------------------

TEST_P(ScenarioTest, ParallelSleepsRunConcurrentlyAndNeverWakeEarly) {
  const Result result = run("parallel_sleeps", {"n=4", "duration=200ms"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace, (Trace{"start t0", "start t1", "start t2", "start t3", "done t0 ok",
                                 "done t1 ok", "done t2 ok", "done t3 ok"}));
  EXPECT_EQ(result.metrics.at("early_wakeups"), 0);
  EXPECT_EQ(result.metrics.at("tasks"), 4);
  EXPECT_GE(result.metrics.at("loop_elapsed_ns"), 200e6);
  const auto latency = result.latency();
  EXPECT_EQ(latency.count, 4U);
  EXPECT_GE(latency.min, 0);
  // Four sequential sleeps would take at least 800 ms (a sleep never ends early).
  if (traits_.real_time) {
    EXPECT_LT(result.wall_ns, 790'000'000);
  }
}

TEST_P(ScenarioTest, ParallelSleepsSummariseLargeGroups) {
  const Result result = run("parallel_sleeps", {"n=2000", "duration=20ms"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace, (Trace{"start 2000 sleepers", "done 2000 sleepers ok"}));
  EXPECT_EQ(result.latency().count, 2000U);
  EXPECT_EQ(result.metrics.at("early_wakeups"), 0);
}

// The sleepers start one iteration after the scenario's main task: the
// deadline must leave time for that.
TEST_P(ScenarioTest, ATinyDeadlineIsATimeoutNotAHang) {
  const Result result = run("parallel_sleeps", {"n=2", "duration=1h", "deadline=1s"});
  EXPECT_EQ(result.status, Status::timeout);
  EXPECT_EQ(result.error, "deadline of 1s passed");
  EXPECT_EQ(result.trace, (Trace{"start t0", "start t1", "timeout after 1s", "pending t0",
                                 "pending t1", "cancelled t0", "cancelled t1"}));
  EXPECT_EQ(result.latency().count, 0U);
}

// The deadline cuts 100 started sleepers, whose timers the clean-up cancels.
TEST_P(ScenarioTest, ALoopIsReusableAfterATimeout) {
  EXPECT_EQ(run("parallel_sleeps", {"n=100", "duration=1h", "deadline=1s"}).trace,
            (Trace{"start 100 sleepers", "timeout after 1s", "pending 100 sleepers",
                   "cancelled 100 sleepers"}));
  const Result again = run("parallel_sleeps", {"n=3", "duration=10ms"});
  EXPECT_EQ(again.status, Status::ok) << again.error;
  EXPECT_EQ(again.trace.size(), 6U);
}

// --- gather -------------------------------------------------------------------------------

TEST_P(ScenarioTest, GatherFlatCountsItsTasks) {
  const Result result = run("gather", {"n=500"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace, (Trace{"start gather", "done gather ok: 500 tasks"}));
  EXPECT_EQ(result.metrics.at("tasks"), 500);
  EXPECT_GT(result.metrics.at("ns_per_task"), 0);
}

TEST_P(ScenarioTest, GatherTreeCountsEveryNode) {
  // 3 + 9 + 27 tasks below the root.
  const Result result = run("gather", {"mode=tree", "depth=3", "branching=3"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace, (Trace{"start gather", "done gather ok: 39 tasks"}));
  const Result sleeping = run("gather", {"mode=tree", "depth=2", "branching=4", "leaf_sleep=5ms"});
  ASSERT_EQ(sleeping.status, Status::ok) << sleeping.error;
  EXPECT_EQ(sleeping.metrics.at("tasks"), 20);
}

TEST_P(ScenarioTest, GatherStaggeredKeepsArgumentOrder) {
  const Result result = run("gather", {"mode=staggered", "n=4"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace,
            (Trace{"start gather", "start child0", "start child1", "start child2", "start child3",
                   "done child3 ok", "done child2 ok", "done child1 ok", "done child0 ok",
                   "gathered 0 1 2 3", "done gather ok: 4 tasks"}));
  EXPECT_EQ(result.metrics.at("results_in_order"), 1);
  const Result large = run("gather", {"mode=staggered", "n=100"});
  ASSERT_EQ(large.status, Status::ok) << large.error;
  EXPECT_EQ(large.trace, (Trace{"start gather", "start 100 children", "done 100 children ok",
                                "done gather ok: 100 tasks"}));
  EXPECT_EQ(large.metrics.at("results_in_order"), 1);
}

// --- stop_race ----------------------------------------------------------------------------

TEST_P(ScenarioTest, StopRaceSameBatchFinishesBoth) {
  // Both are woken by one sleep's done callbacks, in one batch: stop() lets it finish.
  const Result result = run("stop_race", {"variant=same_batch", "sleep_a=20ms"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace, (Trace{"start a", "start b", "stop loop", "done a ok", "stop loop",
                                 "done b ok", "loop stopped"}));
}

TEST_P(ScenarioTest, StopRaceNaiveLeavesTheSlowerTaskPending) {
  // b sleeps for an hour: however late a's wake-up, b cannot finish in its batch.
  const Result result = run("stop_race", {"variant=naive", "sleep_a=20ms", "sleep_b=1h"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace, (Trace{"start a", "start b", "stop loop", "done a ok", "loop stopped",
                                 "pending b", "cancelled b"}));
  EXPECT_GE(result.metrics.at("stop_to_return_ns"), 0);
  EXPECT_EQ(result.latency().count, 1U);
}

TEST_P(ScenarioTest, StopRaceFixedFinishesBoth) {
  const Result result = run("stop_race", {"variant=fixed", "sleep_a=20ms", "sleep_b=60ms"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace,
            (Trace{"start a", "start b", "done a ok", "done b ok", "stop loop", "loop stopped"}));
  EXPECT_FALSE(has_prefix(result.trace, "pending"));
  EXPECT_TRUE(result.metrics.count("stop_to_return_ns"));
}

TEST_P(ScenarioTest, StopRaceTimesOutWithBothPending) {
  const Result result =
      run("stop_race", {"variant=fixed", "sleep_a=1h", "sleep_b=1h", "deadline=30ms"});
  EXPECT_EQ(result.status, Status::timeout);
  EXPECT_EQ(result.trace, (Trace{"start a", "start b", "timeout after 30ms", "loop stopped",
                                 "pending a", "pending b", "cancelled a", "cancelled b"}));
  EXPECT_FALSE(result.metrics.count("stop_to_return_ns"));
}

// --- producer_consumer --------------------------------------------------------------------

struct Strategy {
  const char* strategy;
  const char* termination;
};

TEST_P(ScenarioTest, ProducerConsumerTerminatesCleanlyForEachStrategy) {
  const Strategy strategies[] = {{"bounded", "cancel"},   {"bounded", "shutdown"},
                                 {"join_at", "cancel"},   {"join_at", "shutdown"},
                                 {"unbounded", "cancel"}, {"unbounded", "shutdown"}};
  for (const auto& [strategy, termination] : strategies) {
    SCOPED_TRACE(std::string(strategy) + "/" + termination);
    const Result result = run("producer_consumer", {std::string("strategy=") + strategy,
                                                    std::string("termination=") + termination,
                                                    "items=1000", "k=8", "sample_every=1"});
    ASSERT_EQ(result.status, Status::ok) << result.error;
    EXPECT_EQ(result.metrics.at("items"), 1000);
    EXPECT_EQ(result.latency().count, 1000U);
    EXPECT_GE(result.latency().min, 0);
    const bool unbounded = std::string(strategy) == "unbounded";
    if (unbounded) {
      EXPECT_EQ(result.metrics.at("max_qsize"), 1000);  // The producer ran ahead.
    } else {
      EXPECT_LE(result.metrics.at("max_qsize"), 8);
    }
    // An unbounded producer never suspends: it is done before the consumer starts.
    Trace expected = unbounded ? Trace{"start producer", "done producer ok", "start consumer"}
                               : Trace{"start producer", "start consumer", "done producer ok"};
    expected.insert(expected.end(), {"join queue", "joined queue"});
    if (std::string(termination) == "cancel") {
      expected.insert(expected.end(), {"cancel consumer", "cancelled consumer"});
    } else {
      expected.insert(expected.end(), {"shutdown queue", "done consumer ok"});
    }
    EXPECT_EQ(result.trace, expected);
  }
}

TEST_P(ScenarioTest, ProducerConsumerTheSeedsGatherTimesOut) {
  // A second for the 100 items to pass before the deadline.
  const Result result = run("producer_consumer", {"termination=none", "items=100", "deadline=1s"});
  EXPECT_EQ(result.status, Status::timeout);
  EXPECT_EQ(result.trace, (Trace{"start producer", "start consumer", "done producer ok",
                                 "timeout after 1s", "pending consumer", "cancelled consumer"}));
  EXPECT_EQ(result.metrics.at("items"), 100);  // Everything was consumed; it just never ends.
}

TEST_P(ScenarioTest, ProducerConsumerTracesEveryPutAndGetOfSmallRuns) {
  const Result bounded = run("producer_consumer", {"strategy=bounded", "items=5", "k=2"});
  ASSERT_EQ(bounded.status, Status::ok) << bounded.error;
  // put 2 waits for room; get 0 makes it, and the producer runs once the consumer waits.
  EXPECT_EQ(bounded.trace,
            (Trace{"start producer", "put 0", "put 1", "start consumer", "get 0", "get 1", "put 2",
                   "put 3", "get 2", "get 3", "put 4", "done producer ok", "get 4", "join queue",
                   "joined queue", "cancel consumer", "cancelled consumer"}));
  const Result join_at = run("producer_consumer", {"strategy=join_at", "items=3", "k=2"});
  ASSERT_EQ(join_at.status, Status::ok) << join_at.error;
  EXPECT_EQ(join_at.trace,
            (Trace{"start producer", "put 0", "put 1", "join queue", "start consumer", "get 0",
                   "get 1", "joined queue", "put 2", "done producer ok", "get 2", "join queue",
                   "joined queue", "cancel consumer", "cancelled consumer"}));
}

// A queue that never fills: put() never suspends, so only the producer's own
// yields let the deadline cut it. In one step, 100,000,000 items took tens
// of seconds.
TEST_P(ScenarioTest, ProducerConsumerIsCutAtItsDeadlineWhenTheQueueNeverFills) {
  const auto start = std::chrono::steady_clock::now();
  const Result result = run("producer_consumer",
                            {"items=100M", "k=1000000000", "sample_every=1000", "deadline=100ms"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms + kCutSlack);
  EXPECT_EQ(result.status, Status::timeout) << result.error;
  EXPECT_LT(result.metrics.at("items"), 100'000'000);
  EXPECT_EQ(result.latency().count, 0U);  // An incomplete series reports no samples.
}

TEST_P(ScenarioTest, ProducerConsumerSamplesEveryNthItem) {
  const Result result = run("producer_consumer", {"items=1000", "sample_every=100"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.latency().count, 10U);
  EXPECT_EQ(run("producer_consumer", {"items=100", "sample_every=0"}).latency().count, 0U);
}

// --- timer_storm --------------------------------------------------------------------------

TEST_P(ScenarioTest, TimerStormFiresEveryTimerNeverEarly) {
  const Result result = run("timer_storm", {"n=20000", "spread=50ms"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace, (Trace{"start 20000 timers", "done 20000 timers ok"}));
  const auto latency = result.latency();
  EXPECT_EQ(latency.count, 20000U);
  EXPECT_GE(latency.min, 0);
  for (const char* metric : {"schedule_ns", "dispatch_ns", "total_ns", "schedule_ns_per_timer"}) {
    EXPECT_GT(result.metrics.at(metric), 0) << metric;
  }
  EXPECT_GE(result.metrics.at("total_ns"), result.metrics.at("schedule_ns"));
}

TEST_P(ScenarioTest, TimerStormNamesEachFiringOfSmallStorms) {
  const Result result = run("timer_storm", {"n=3", "spread=30ms"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace, (Trace{"start timer0", "start timer1", "start timer2", "done timer0 ok",
                                 "done timer1 ok", "done timer2 ok"}));
  const Result cut = run("timer_storm", {"n=3", "spread=1h", "deadline=20ms"});
  EXPECT_EQ(cut.status, Status::timeout);
  EXPECT_EQ(cut.trace, (Trace{"start timer0", "start timer1", "start timer2", "timeout after 20ms",
                              "pending timer0", "pending timer1", "pending timer2",
                              "cancelled timer0", "cancelled timer1", "cancelled timer2"}));
}

TEST_P(ScenarioTest, TimerStormTimesOutAndCancelsItsTimers) {
  const Result result = run("timer_storm", {"n=1000", "spread=1h", "deadline=20ms"});
  EXPECT_EQ(result.status, Status::timeout);
  EXPECT_EQ(result.trace, (Trace{"start 1000 timers", "timeout after 20ms", "pending 1000 timers",
                                 "cancelled 1000 timers"}));
}

// --- threadsafe_pingpong ------------------------------------------------------------------

TEST_P(ScenarioTest, ThreadsafePingpongRoundTrips) {
  const Result result = run("threadsafe_pingpong", {"rounds=300"});
  if (!traits_.threads) {
    EXPECT_EQ(result.status, Status::error);
    EXPECT_NE(result.error.find("needs real threads"), std::string::npos) << result.error;
    return;
  }
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace, (Trace{"start pinger", "done pinger ok"}));
  EXPECT_EQ(result.latency().count, 300U);
  EXPECT_GT(result.latency().min, 0);
}

TEST_P(ScenarioTest, ThreadsafePingpongTimesOut) {
  if (!traits_.threads) {
    GTEST_SKIP() << GetParam() << " has no real threads";
  }
  const Result result = run("threadsafe_pingpong", {"rounds=100000000", "deadline=50ms"});
  EXPECT_EQ(result.status, Status::timeout);
  EXPECT_EQ(result.trace,
            (Trace{"start pinger", "timeout after 50ms", "pending pinger", "cancelled pinger"}));
}

// --- callback_chain -----------------------------------------------------------------------

TEST_P(ScenarioTest, CallbackChainRunsEveryLink) {
  const Result result = run("callback_chain", {"n=10000"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace, (Trace{"start chain", "done chain ok: 10000 callbacks"}));
  EXPECT_EQ(result.metrics.at("callbacks"), 10000);
  EXPECT_GT(result.metrics.at("ns_per_callback"), 0);
}

TEST_P(ScenarioTest, CallbackChainTimesOut) {
  const Result result = run("callback_chain", {"n=1000000000", "deadline=30ms"});
  EXPECT_EQ(result.status, Status::timeout);
  EXPECT_EQ(result.trace,
            (Trace{"start chain", "timeout after 30ms", "pending chain", "cancelled chain"}));
  EXPECT_LT(result.metrics.at("callbacks"), 1e9);
}

// --- sleep_precision ----------------------------------------------------------------------

TEST_P(ScenarioTest, SleepPrecisionSleepsInSequenceNeverEarly) {
  const Result result = run("sleep_precision", {"n=20", "duration=2ms"});
  ASSERT_EQ(result.status, Status::ok) << result.error;
  EXPECT_EQ(result.trace, (Trace{"start sleeper", "done sleeper ok: 20 sleeps"}));
  EXPECT_EQ(result.metrics.at("sleeps"), 20);
  // On the independent clock too: no backend wakes a sleeper before its deadline (SLEEP-02).
  EXPECT_EQ(result.metrics.at("early_wakeups"), 0);
  EXPECT_EQ(result.metrics.at("independent_clock"), traits_.real_time ? 1 : 0);
  const auto latency = result.latency();
  EXPECT_EQ(latency.count, 20U);
  EXPECT_GE(latency.min, 0);
  if (traits_.real_time) {
    // Sequential, not parallel: at least n times the duration.
    EXPECT_GE(result.wall_ns, 40'000'000);
  } else {
    EXPECT_EQ(latency.max, 0);  // Virtual time wakes exactly at the deadline.
  }
}

TEST_P(ScenarioTest, SleepPrecisionTimesOutMidSeries) {
  const Result result = run("sleep_precision", {"n=1000", "duration=10ms", "deadline=35ms"});
  EXPECT_EQ(result.status, Status::timeout);
  EXPECT_EQ(result.trace,
            (Trace{"start sleeper", "timeout after 35ms", "pending sleeper", "cancelled sleeper"}));
  EXPECT_EQ(result.latency().count, 0U);  // An incomplete series reports no samples.
  EXPECT_LT(result.metrics.at("sleeps"), 1000);
}

// --- Every scenario ------------------------------------------------------------------------

// Each scenario under settings that would run for an hour (Scenario::endless):
// a 40 ms deadline ends each one.
TEST_P(ScenarioTest, EveryScenarioEndsAtItsDeadline) {
  for (const auto& scenario : scenarios::all()) {
    SCOPED_TRACE(scenario.name);
    EXPECT_FALSE(scenario.endless.empty());
    std::vector<std::string> with_deadline = scenario.endless;
    with_deadline.push_back("deadline=40ms");
    const Result result = run(scenario.name, with_deadline);
    // Every figure it reports is declared, with its unit.
    for (const auto& [metric, value] : result.metrics) {
      EXPECT_NE(scenario.unit_of(metric), nullptr) << metric;
    }
    if (!scenarios::cannot_run(scenario, loop_->backend()).empty()) {
      EXPECT_EQ(result.status, Status::error);
      continue;
    }
    EXPECT_EQ(result.status, Status::timeout) << result.error;
    EXPECT_TRUE(has_prefix(result.trace, "timeout after 40ms"));
    EXPECT_TRUE(has_prefix(result.trace, "pending "));
    // The clean-up cancelled only what was pending at the deadline, and all
    // of it that had started. A task that never started may be cancelled or
    // not: on a loaded machine the deadline can fall due in the first batch,
    // before any child starts, and fetch_many's lone first request holds the
    // run, so its requests never start.
    const std::set<std::string> pending = subjects(result.trace, "pending ");
    const std::set<std::string> cancelled = subjects(result.trace, "cancelled ");
    for (const std::string& what : cancelled) {
      EXPECT_TRUE(pending.contains(what)) << "cancelled " << what << ", which was not pending";
    }
    for (const std::string& what : subjects(result.trace, "start ")) {
      if (pending.contains(what)) {
        EXPECT_TRUE(cancelled.contains(what)) << what << " started and was pending, not cancelled";
      }
    }
  }
}

TEST_P(ScenarioTest, TracesRepeatExactly) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> runs = {
      {"parallel_sleeps", {"n=4", "duration=10ms"}},
      {"stop_race", {"variant=naive", "sleep_a=10ms", "sleep_b=1h"}},
      {"producer_consumer", {"items=500", "strategy=join_at"}},
  };
  for (const auto& [name, assignments] : runs) {
    EXPECT_EQ(run(name, assignments).trace, run(name, assignments).trace) << name;
  }
}

TEST_P(ScenarioTest, VirtualTimeIsExact) {
  if (traits_.real_time) {
    GTEST_SKIP() << GetParam() << " runs on the real clock";
  }
  const Result result = run("parallel_sleeps", {"n=3", "duration=1500ms"});
  EXPECT_EQ(result.metrics.at("loop_elapsed_ns"), 1.5e9);
  EXPECT_EQ(result.latency().max, 0);
  const Result timers = run("timer_storm", {"n=5000", "spread=1s"});
  EXPECT_EQ(timers.latency().max, 0);
}

std::vector<std::string> available_backends() {
  return loops::available_backend_names();
}

INSTANTIATE_TEST_SUITE_P(, ScenarioTest, ::testing::ValuesIn(available_backends()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
