// SEMANTICS.md area 1: loop lifecycle (LOOP-*).
#include <stdexcept>
#include <string>
#include <vector>

#include "harness.hpp"

namespace conformance {
namespace {

using loops::Future;
using loops::Task;

Task<int> return_five() {
  co_return 5;
}

template <class A>
concept RunsUntilComplete = requires(loops::EventLoop& loop, A a) {
  loop.run_until_complete(a);
};

Task<void> raise_key_error() {
  co_await loops::sleep(0s);
  throw std::out_of_range("key");  // C++'s KeyError.
}

Task<void> sleep_for(std::chrono::milliseconds d) {
  co_await loops::sleep(d);
}

Task<void> wait_forever(Future<void> never) {
  co_await never;
}

}  // namespace

// --- run_until_complete -------------------------------------------------------------

TEST_P(Conformance, LOOP_RUC_01) {
  EXPECT_EQ(loop().run_until_complete(return_five()), 5);
  auto done = loop().create_future<int>();
  done.set_result(7);
  const auto before = loop().iterations();
  EXPECT_EQ(loop().run_until_complete(done), 7);
  // An already-done future returns at once: its done callback needs one iteration.
  EXPECT_LE(loop().iterations() - before, 1U);
}

TEST_P(Conformance, LOOP_RUC_02) {
  EXPECT_THROW(loop().run_until_complete(raise_key_error()), std::out_of_range);

  auto task = loop().create_task(sleep_for(10s));
  loop().call_soon([task] { task.cancel(); });
  EXPECT_THROW(loop().run_until_complete(task), loops::CancelledError);
  EXPECT_TRUE(task.cancelled());
}

TEST_P(Conformance, LOOP_RUC_03) {
  // A coroutine is wrapped in a task and scheduled.
  auto coroutine = return_five();
  EXPECT_FALSE(coroutine.scheduled());
  EXPECT_EQ(loop().run_until_complete(coroutine), 5);
  EXPECT_TRUE(coroutine.scheduled());
  EXPECT_TRUE(coroutine.done());
  // A non-awaitable argument is rejected; in C++ that is a compile-time error.
  static_assert(!RunsUntilComplete<int>);
  static_assert(RunsUntilComplete<Future<int>> && RunsUntilComplete<Task<int>>);
}

TEST_P(Conformance, LOOP_RUC_04) {
  auto other = loops::make_loop(backend());
  auto foreign = other->create_future<int>();
  EXPECT_THROW(loop().run_until_complete(foreign), loops::ValueError);
  auto foreign_task = other->create_task(return_five());
  EXPECT_THROW(loop().run_until_complete(foreign_task), loops::ValueError);
  EXPECT_EQ(other->run_until_complete(foreign_task), 5);
  other->close();
}

TEST_P(Conformance, LOOP_RUC_06) {
  auto interrupt = []() -> Task<void> {
    co_await loops::sleep(0s);
    throw loops::FatalError("KeyboardInterrupt");
  };
  EXPECT_THROW(loop().run_until_complete(interrupt()), loops::FatalError);
  EXPECT_FALSE(loop().is_running());

  bool ran = false;
  loop().call_soon([&] {
    ran = true;
    loop().stop();
  });
  loop().run_forever();
  EXPECT_TRUE(ran);
  // No stale stop request: this run goes to completion.
  EXPECT_NO_THROW(loop().run_until_complete(sleep_for(10ms)));
}

TEST_P(Conformance, LOOP_RUC_07) {
  auto slow = loop().create_task(sleep_for(1s));
  loop().run_until_complete(sleep_for(10ms));
  EXPECT_FALSE(slow.done());
  EXPECT_FALSE(slow.cancelled());
  slow.cancel();
  EXPECT_THROW(loop().run_until_complete(slow), loops::CancelledError);
}

// --- run_forever ----------------------------------------------------------------------

TEST_P(Conformance, LOOP_RUN_01) {
  REQUIRE_THREADS();
  const auto start = wall_now();
  std::thread stopper([this] {
    std::this_thread::sleep_for(100ms);
    loop().call_soon_threadsafe([this] { loop().stop(); });
  });
  loop().run_forever();
  const double lasted = elapsed_s(start);
  stopper.join();
  RecordProperty("run_forever_s", std::to_string(lasted));
  EXPECT_GE(lasted, 0.1);
  EXPECT_LT(lasted, 5.0);
}

TEST_P(Conformance, LOOP_RUN_02) {
  EXPECT_FALSE(loop().is_running());
  bool in_callback = false;
  bool in_task = false;
  loop().call_soon([&] { in_callback = loop().is_running(); });
  loop().run_until_complete([&]() -> Task<void> {
    in_task = loops::get_running_loop().is_running();
    co_return;
  }());
  EXPECT_TRUE(in_callback);
  EXPECT_TRUE(in_task);
  EXPECT_FALSE(loop().is_running());
}

TEST_P(Conformance, LOOP_RUN_03) {
  EXPECT_EQ(loop().run_until_complete(return_five()), 5);
  EXPECT_EQ(loop().run_until_complete(return_five()), 5);

  std::vector<std::string> log;
  loop().call_soon([&] {
    log.push_back("stop");
    loop().stop();
    loop().call_soon([&] { log.push_back("after"); });
  });
  loop().run_forever();
  EXPECT_EQ(log, (std::vector<std::string>{"stop"}));
  run_once();
  EXPECT_EQ(log, (std::vector<std::string>{"stop", "after"}));
}

TEST_P(Conformance, LOOP_RUN_04) {
  bool refused = false;
  auto outer = [&]() -> Task<int> {
    try {
      loop().run_until_complete(return_five());
    } catch (const loops::LoopRunningError&) {
      refused = true;
    }
    co_await loops::sleep(1ms);
    co_return 9;
  };
  EXPECT_EQ(loop().run_until_complete(outer()), 9);
  EXPECT_TRUE(refused);
  EXPECT_FALSE(loop().is_running());
}

TEST_P(Conformance, LOOP_RUN_05) {
  auto other = loops::make_loop(backend());
  bool refused_until_complete = false;
  bool refused_forever = false;
  loop().call_soon([&] {
    try {
      other->run_until_complete(return_five());
    } catch (const loops::LoopRunningError&) {
      refused_until_complete = true;
    }
    try {
      other->run_forever();
    } catch (const loops::LoopRunningError&) {
      refused_forever = true;
    }
    loop().stop();
  });
  loop().run_forever();
  EXPECT_TRUE(refused_until_complete);
  EXPECT_TRUE(refused_forever);
  EXPECT_FALSE(other->is_running());
  other->close();
}

TEST_P(Conformance, LOOP_RUN_06) {
  bool recorded = false;
  loop().call_soon([] { throw std::runtime_error("bad"); });
  loop().call_soon([&] { recorded = true; });
  loop().call_soon([&] { loop().stop(); });
  loop().run_forever();
  EXPECT_TRUE(recorded);
  ASSERT_EQ(handled_errors.size(), 1U);
  EXPECT_THROW(std::rethrow_exception(handled_errors[0].exception), std::runtime_error);
}

TEST_P(Conformance, LOOP_RUN_07) {
  bool after_ran = false;
  loop().call_soon([] { throw loops::FatalError("SystemExit"); });
  loop().call_soon([&] { after_ran = true; });
  EXPECT_THROW(loop().run_forever(), loops::FatalError);
  EXPECT_FALSE(loop().is_running());
  EXPECT_FALSE(loop().is_closed());
  EXPECT_TRUE(handled_errors.empty());
  // The loop can run again; the callback after the fatal one was kept.
  EXPECT_EQ(loop().run_until_complete(return_five()), 5);
  EXPECT_TRUE(after_ran);
}

// --- stop -----------------------------------------------------------------------------

TEST_P(Conformance, LOOP_STOP_01) {
  std::vector<std::string> log;
  loop().call_soon([&] {
    log.push_back("A");
    loop().call_soon([&] { log.push_back("C"); });
    loop().stop();
  });
  loop().call_soon([&] { log.push_back("B"); });
  loop().run_forever();
  EXPECT_EQ(log, (std::vector<std::string>{"A", "B"}));
  run_once();
  EXPECT_EQ(log, (std::vector<std::string>{"A", "B", "C"}));
}

TEST_P(Conformance, LOOP_STOP_02) {
  std::vector<std::string> log;
  loop().call_soon([&] {
    log.push_back("A");
    loop().call_soon([&] { log.push_back("A2"); });
  });
  // A timer far away must not make the pre-stopped run block.
  loop().call_later(30s, [&] { log.push_back("timer"); });
  const auto before = loop().iterations();
  const auto start = wall_now();
  loop().stop();
  loop().run_forever();
  EXPECT_EQ(loop().iterations() - before, 1U);
  EXPECT_LT(elapsed_s(start), 2.0);
  EXPECT_EQ(log, (std::vector<std::string>{"A"}));
}

TEST_P(Conformance, LOOP_STOP_04) {
  REQUIRE_THREADS();
  // The thread-safe way to stop a loop blocked on a far timer is prompt.
  bool timer_fired = false;
  loop().call_later(5s, [&] { timer_fired = true; });
  const auto start = wall_now();
  std::thread stopper([this] {
    std::this_thread::sleep_for(50ms);
    loop().call_soon_threadsafe([this] { loop().stop(); });
  });
  loop().run_forever();
  const double lasted = elapsed_s(start);
  stopper.join();
  RecordProperty("stop_threadsafe_s", std::to_string(lasted));
  EXPECT_GE(lasted, 0.05);
  EXPECT_LT(lasted, 2.5);
  EXPECT_FALSE(timer_fired);
}

TEST_P(Conformance, LOOP_STOP_05) {
  bool fired = false;
  loops::Nanos fired_at = 0;
  // The rule's 50 ms would fall due if the thread stalled that long before
  // the stopped run; a second cannot.
  auto timer = loop().call_later(1s, [&] {
    fired = true;
    fired_at = loop().now();
  });
  run_once();
  EXPECT_FALSE(fired);
  run_until([&] { return fired; });
  EXPECT_TRUE(fired);
  EXPECT_GE(fired_at, timer.when());
}

// --- close ----------------------------------------------------------------------------

TEST_P(Conformance, LOOP_CLOSE_01) {
  bool refused = false;
  loop().call_soon([&] {
    try {
      loop().close();
    } catch (const loops::LoopRunningError&) {
      refused = true;
    }
    loop().stop();
  });
  loop().run_forever();
  EXPECT_TRUE(refused);
  EXPECT_FALSE(loop().is_closed());
}

TEST_P(Conformance, LOOP_CLOSE_02) {
  loop().close();
  EXPECT_TRUE(loop().is_closed());
  EXPECT_NO_THROW(loop().close());
  EXPECT_TRUE(loop().is_closed());
}

TEST_P(Conformance, LOOP_CLOSE_03) {
  loop().close();
  auto noop = [] {};
  EXPECT_THROW(loop().run_forever(), loops::LoopClosedError);
  EXPECT_THROW(loop().run_until_complete(return_five()), loops::LoopClosedError);
  EXPECT_THROW(loop().call_soon(noop), loops::LoopClosedError);
  EXPECT_THROW(loop().call_later(1ms, noop), loops::LoopClosedError);
  EXPECT_THROW(loop().call_at(loop().now(), noop), loops::LoopClosedError);
  EXPECT_THROW(loop().call_soon_threadsafe(noop), loops::LoopClosedError);
  EXPECT_THROW(loop().create_task(return_five()), loops::LoopClosedError);
}

TEST_P(Conformance, LOOP_CLOSE_04) {
  bool soon_ran = false;
  bool later_ran = false;
  loop().call_soon([&] { soon_ran = true; });
  loop().call_later(0s, [&] { later_ran = true; });
  loop().close();
  loop_.reset();  // Destroying the loop must not run them either.
  EXPECT_FALSE(soon_ran);
  EXPECT_FALSE(later_ran);
}

TEST_P(Conformance, LOOP_CLOSE_05) {
  auto never = loop().create_future<void>();
  auto task = loop().create_task(wait_forever(never));
  run_once();
  loop().close();
  EXPECT_FALSE(task.done());
  EXPECT_FALSE(task.cancelled());
  ASSERT_TRUE(handled_errors.empty());
  never = {};
  loop_.reset();
  ASSERT_EQ(handled_errors.size(), 1U);
  EXPECT_EQ(handled_errors[0].exception, nullptr);
  EXPECT_NE(handled_errors[0].message.find("destroyed but it is pending"), std::string::npos);
}

TEST_P(Conformance, LOOP_CLOSE_06) {
  std::vector<std::string> log;
  auto leftover = [&log]() -> Task<void> {
    try {
      co_await loops::sleep(30s);
    } catch (const loops::CancelledError&) {
      log.push_back("cancelled");
    }
    co_await loops::sleep(1ms);  // Cleanup that the runner must wait for.
    log.push_back("cleaned up");
  };
  auto main = [&]() -> Task<int> {
    loops::get_running_loop().create_task(leftover());
    co_await loops::sleep(0s);
    co_return 3;
  };
  EXPECT_EQ(loops::run(main(), backend()), 3);
  EXPECT_EQ(log, (std::vector<std::string>{"cancelled", "cleaned up"}));

  // A leftover that stops the loop when cancelled ends the runner's wait
  // early, as asyncio's RuntimeError does; the loop must stay usable (the
  // wait's done callbacks still queued must not outlive its state).
  auto stops_the_loop = []() -> Task<void> {
    try {
      co_await loops::sleep(30s);
    } catch (const loops::CancelledError&) {
      loops::get_running_loop().stop();
      throw;
    }
  };
  loop().create_task(stops_the_loop());
  loop().create_task(sleep_for(30s));
  run_once();
  EXPECT_THROW(loop().cancel_pending_tasks(), loops::LoopStoppedError);
  EXPECT_NO_THROW(loop().run_until_complete(sleep_for(1ms)));
  EXPECT_EQ(loop().pending_task_count(), 0U);

  // From inside a running loop it is refused.
  bool refused = false;
  loop().run_until_complete([&]() -> Task<void> {
    try {
      loops::run(return_five(), backend());
    } catch (const loops::LoopRunningError&) {
      refused = true;
    }
    co_return;
  }());
  EXPECT_TRUE(refused);
}

}  // namespace conformance
