// The seed notes' examples (../shared/seed-asyncio-notes.md), run on every
// backend, fixed where the seed is wrong: time is measured with a monotonic
// clock (not time.clock()), run_until_complete's return value is the result
// itself (not something to call .result() on), the function body has no tab,
// and the consumer that never ended is cancelled once join() returns.
#include <string>
#include <vector>

#include "harness.hpp"

namespace conformance {
namespace {

using loops::Future;
using loops::Task;

class SeedExample : public Conformance {};

Task<std::string> test_ok() {
  co_return "ok";
}

Task<std::string> sleep_then_ok(std::chrono::milliseconds d) {
  co_await loops::sleep(d);
  co_return "ok";
}

}  // namespace

// "定义一个简单的协程": a coroutine wrapped in a task, with a done callback.
TEST_P(SeedExample, SimpleCoroutineWithDoneCallback) {
  auto coroutine = test_ok();
  auto task = loop().create_task(coroutine);
  std::vector<std::string> seen;
  task.add_done_callback([&](const Future<std::string>& f) { seen.push_back(f.result()); });
  EXPECT_TRUE(seen.empty());
  loop().run_until_complete(task);
  run_once();  // The callback was scheduled with call_soon when the task finished.
  EXPECT_EQ(seen, (std::vector<std::string>{"ok"}));
}

// "await 关键字": sleep stands for a network request; the callback sees 'ok'.
TEST_P(SeedExample, AwaitSleepThenCallback) {
  auto task = loop().create_task(sleep_then_ok(100ms));
  std::string seen;
  task.add_done_callback([&](const Future<std::string>& f) { seen = f.result(); });
  loop().run_until_complete(task);
  run_once();
  EXPECT_EQ(seen, "ok");
}

// "并发操作": four parallel sleep(1) take about one second, not four.
TEST_P(SeedExample, FourParallelSleepsTakeOneSecond) {
  const auto wall_start = wall_now();
  const loops::Nanos loop_start = loop().now();
  std::vector<Task<std::string>> tasks;
  for (int i = 0; i < 4; ++i) tasks.push_back(loop().create_task(sleep_then_ok(1s)));
  auto waited = [&]() -> Task<loops::WaitResult<std::string>> {
    co_return co_await loops::wait(tasks);
  };
  auto [done, pending] = loop().run_until_complete(waited());
  const double loop_seconds = static_cast<double>(loop().now() - loop_start) * 1e-9;
  RecordProperty("loop_seconds", std::to_string(loop_seconds));
  EXPECT_EQ(done.size(), 4U);
  EXPECT_TRUE(pending.empty());
  for (const auto& f : done) EXPECT_EQ(f.result(), "ok");
  EXPECT_GE(loop_seconds, 1.0);
  EXPECT_LT(loop_seconds, 3.0);  // Sequential sleeps would take 4 s.
  if (traits().real_time) {
    EXPECT_LT(elapsed_s(wall_start), 3.0);
  }
}

// "run_until_complete 和 run_forever": the value comes back directly.
TEST_P(SeedExample, RunUntilCompleteReturnsTheValue) {
  auto task = loop().create_task(sleep_then_ok(10ms));
  std::string result = loop().run_until_complete(task);
  EXPECT_EQ(result, "ok");
}

// The stop race: the first coroutine to finish stops the loop; the slower one
// stays pending. The fix gathers both and stops from the gather's callback.
TEST_P(SeedExample, StopRaceLeavesTheSlowerTaskPending) {
  std::vector<int> finished;
  auto do_some = [&](int tenths) -> Task<void> {
    co_await loops::sleep(std::chrono::milliseconds(100 * tenths));
    finished.push_back(tenths);
    loops::get_running_loop().stop();
  };
  auto first = loop().create_task(do_some(1));
  auto second = loop().create_task(do_some(3));
  loop().run_forever();
  EXPECT_EQ(finished, (std::vector<int>{1}));
  EXPECT_TRUE(first.done());
  EXPECT_FALSE(second.done());
  EXPECT_FALSE(second.cancelled());
  loop().run_until_complete(second);  // It resumes on the next run.
  EXPECT_EQ(finished, (std::vector<int>{1, 3}));
}

TEST_P(SeedExample, GatherWithDoneCallbackFixesTheStopRace) {
  std::vector<int> finished;
  auto do_some = [&](int tenths) -> Task<void> {
    co_await loops::sleep(std::chrono::milliseconds(100 * tenths));
    finished.push_back(tenths);
  };
  auto both = loops::gather(loop(), do_some(1), do_some(3));
  int callbacks = 0;
  both.add_done_callback([&](const auto&) {
    ++callbacks;
    loop().stop();
  });
  loop().run_forever();
  EXPECT_EQ(finished, (std::vector<int>{1, 3}));
  EXPECT_TRUE(both.done());
  EXPECT_EQ(callbacks, 1);
}

// "Close Loop": a stopped loop runs again; a closed one refuses.
TEST_P(SeedExample, ClosedLoopRefusesToRun) {
  EXPECT_EQ(loop().run_until_complete(sleep_then_ok(10ms)), "ok");
  EXPECT_EQ(loop().run_until_complete(sleep_then_ok(30ms)), "ok");
  loop().close();
  EXPECT_THROW(loop().run_until_complete(sleep_then_ok(30ms)), loops::LoopClosedError);
}

// "生产者消费者": the seed's consumer loops forever, so gather(producer,
// consumer) never ends. Fixed: wait for the producer (which joins the queue
// whenever it holds 10 items), join once more, then cancel the consumer.
TEST_P(SeedExample, ProducerConsumerWithJoinTerminates) {
  loops::Queue<int> queue;
  std::vector<int> consumed;
  std::size_t largest = 0;
  auto producer = [&]() -> Task<void> {
    for (int i = 0; i < 100; ++i) {
      co_await queue.put(i);
      largest = std::max(largest, queue.qsize());
      if (queue.qsize() >= 10) co_await queue.join();
    }
  };
  auto consumer = [&]() -> Task<void> {
    for (;;) {
      int item = co_await queue.get();
      consumed.push_back(item);
      queue.task_done();
    }
  };
  auto main = [&]() -> Task<bool> {
    auto consuming = loops::get_running_loop().create_task(consumer());
    co_await producer();
    co_await queue.join();
    consuming.cancel();
    try {
      co_await consuming;
    } catch (const loops::CancelledError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(loop().run_until_complete(main()));
  ASSERT_EQ(consumed.size(), 100U);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(consumed[static_cast<std::size_t>(i)], i);
  EXPECT_LE(largest, 10U);
  EXPECT_EQ(queue.qsize(), 0U);
}

INSTANTIATE_TEST_SUITE_P(, SeedExample, ::testing::ValuesIn(backend_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace conformance
