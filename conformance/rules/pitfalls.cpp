// SEMANTICS.md area 9: the two classic pitfalls (PIT-*): the stop race and
// its gather fix, and run_forever(); stop() that never reaches stop().
#include <string>
#include <vector>

#include "harness.hpp"

namespace conformance {
namespace {

using loops::Nanos;
using loops::Task;
using Ms = std::chrono::milliseconds;

constexpr Nanos ns(std::chrono::nanoseconds d) {
  return d.count();
}

// The seed's do_some(): sleeps, reports, then stops the loop it runs on.
Task<void> sleep_then_stop(loops::EventLoop& loop, Ms delay, std::vector<int>& finished, int id) {
  co_await loops::sleep(delay);
  finished.push_back(id);
  loop.stop();
}

Task<void> sleep_then_log(Ms delay, std::vector<int>& finished, int id) {
  co_await loops::sleep(delay);
  finished.push_back(id);
}

}  // namespace

TEST_P(Conformance, PIT_STOP_01) {
  std::vector<int> finished;
  // t2's deadline a second after t1's: a thread stalled between them past
  // t2's deadline would wake both in one batch.
  auto t1 = loop().create_task(sleep_then_stop(loop(), 10ms, finished, 1));
  auto t2 = loop().create_task(sleep_then_stop(loop(), 1s, finished, 2));
  const Nanos start = loop().now();
  loop().run_forever();
  const Nanos lasted = loop().now() - start;
  EXPECT_EQ(finished, (std::vector<int>{1}));
  EXPECT_TRUE(t1.done());
  EXPECT_FALSE(t2.done()) << "the first stop() must end the run before t2 finishes";
  EXPECT_FALSE(t2.cancelled());
  EXPECT_GE(lasted, ns(10ms));
  // t2 was left pending, not lost: it resumes on the next run.
  EXPECT_NO_THROW(loop().run_until_complete(t2));
  EXPECT_EQ(finished, (std::vector<int>{1, 2}));
  EXPECT_FALSE(t2.cancelled());
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, PIT_STOP_02) {
  std::vector<int> finished;
  auto t1 = loop().create_task(sleep_then_log(10ms, finished, 10));
  auto t2 = loop().create_task(sleep_then_log(50ms, finished, 50));
  auto both = loops::gather(loop(), t1, t2);
  int stops = 0;
  both.add_done_callback([&](const auto&) {
    ++stops;
    loop().stop();
  });
  const Nanos start = loop().now();
  loop().run_forever();
  const Nanos lasted = loop().now() - start;
  RecordProperty("run_forever_ms", std::to_string(static_cast<double>(lasted) * 1e-6));
  EXPECT_EQ(finished, (std::vector<int>{10, 50}));
  EXPECT_TRUE(both.done()) << "run_forever returned before the gather was done";
  EXPECT_FALSE(both.cancelled());
  EXPECT_NO_THROW(both.result());
  EXPECT_EQ(stops, 1);
  EXPECT_GE(lasted, ns(50ms));
  EXPECT_LT(lasted, ns(1s) + ns(50ms));
  for (int i = 0; i < 3; ++i) run_once();
  EXPECT_EQ(stops, 1);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, PIT_RUN_01) {
  const bool real = traits().real_time;
  const Ms stop_after = real ? Ms(100ms) : Ms(1h);
  const Ms far = real ? Ms(30s) : Ms(30h);

  // Only a callback stops the loop from inside: run_forever lasts until it runs.
  Nanos start = loop().now();
  loop().call_later(stop_after, [this] { loop().stop(); });
  loop().run_forever();
  EXPECT_GE(loop().now() - start, ns(stop_after));

  // The stop() of `run_forever(); stop();`, reached only once the loop has
  // returned, sets up the next run alone: one non-blocking iteration...
  loop().stop();
  EXPECT_FALSE(loop().is_running());
  std::vector<std::string> log;
  loop().call_soon([&] {
    log.push_back("A");
    loop().call_soon([&] { log.push_back("A2"); });
  });
  auto far_timer = loop().call_later(far, [&] { log.push_back("far"); });
  const auto before = loop().iterations();
  const auto wall_start = wall_now();
  loop().run_forever();
  EXPECT_EQ(loop().iterations() - before, 1U);
  EXPECT_LT(elapsed_s(wall_start), 1.0);
  EXPECT_EQ(log, (std::vector<std::string>{"A"}));
  // ...and no stale stop survives it: the run after blocks until stopped again.
  start = loop().now();
  loop().call_later(stop_after, [this] { loop().stop(); });
  loop().run_forever();
  EXPECT_GE(loop().now() - start, ns(stop_after));
  EXPECT_EQ(log, (std::vector<std::string>{"A", "A2"}));
  far_timer.cancel();

  // A truly idle loop (no callbacks, timers or I/O) blocks until another
  // thread stops it through call_soon_threadsafe (LOOP-RUN-01).
  EXPECT_TRUE(no_loop_errors(handled_errors));
  REQUIRE_THREADS();
  const auto idle_before = loop().iterations();
  const auto idle_start = wall_now();
  std::thread stopper([this] {
    std::this_thread::sleep_for(100ms);
    loop().call_soon_threadsafe([this] { loop().stop(); });
  });
  loop().run_forever();
  const double lasted = elapsed_s(idle_start);
  stopper.join();
  RecordProperty("idle_run_forever_s", std::to_string(lasted));
  RecordProperty("idle_iterations", std::to_string(loop().iterations() - idle_before));
  EXPECT_GE(lasted, 0.1) << "an idle run_forever returned without being stopped";
  EXPECT_LT(lasted, 1.1);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

}  // namespace conformance
