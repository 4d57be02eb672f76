// SEMANTICS.md area 4: tasks and coroutines (TASK-*).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness.hpp"

namespace conformance {
namespace {

using loops::CancelledError;
using loops::Future;
using loops::Task;
using Log = std::vector<std::string>;

Task<void> append(Log* log, std::string what) {
  log->push_back(std::move(what));
  co_return;
}

Task<int> counted_answer(int* runs) {
  ++*runs;
  co_return 7;
}

// Records that the body ran, from inside which loop iteration, and whether
// the loop was running at the time.
Task<void> note_iteration(Log* log, std::uint64_t* iteration, bool* loop_running) {
  log->push_back("body");
  loops::EventLoop& loop = loops::get_running_loop();
  *iteration = loop.iterations();
  *loop_running = loop.is_running();
  co_return;
}

Task<void> await_void(Future<void> future) {
  co_await future;
}

Task<void> await_task(Task<void> inner) {
  co_await inner;
}

// Awaits `gate`, then fails with a KeyError stand-in or returns 1.
Task<int> fail_if(bool fail, Future<void> gate) {
  co_await gate;
  if (fail) throw std::out_of_range("key");
  co_return 1;
}

Task<void> catch_key_error(Task<int> task, int* caught) {
  try {
    co_await task;
  } catch (const std::out_of_range&) {
    ++*caught;
  }
}

Task<void> await_two(Future<void> first, Future<void> second, Log* log) {
  co_await first;
  log->push_back("resumed-first");
  try {
    co_await second;
  } catch (const CancelledError&) {
    log->push_back("cancelled-at-second");
    throw;
  }
  log->push_back("after-second");
}

// Suppresses the cancellation, keeps running (one more await) and returns 42.
Task<int> suppress_cancel(Future<void> future, bool* caught) {
  try {
    co_await future;
  } catch (const CancelledError&) {
    *caught = true;
  }
  co_await loops::sleep(0ms);
  co_return *caught ? 42 : 0;
}

Task<int> return_after(Future<void> future, bool* caught) {
  try {
    co_await future;
  } catch (const CancelledError&) {
    *caught = true;
    throw;
  }
  co_return 12;
}

Task<void> sleep_long() {
  co_await loops::sleep(1h);
}

// CPython's test_cancel_with_message_then_future_result: cancel a sibling
// with a message, await it, and let its CancelledError escape.
Task<void> cancel_and_await(std::string message, std::optional<std::string>* seen,
                            std::optional<std::string>* result_message) {
  auto inner = loops::get_running_loop().create_task(sleep_long());
  co_await loops::sleep(0ms);
  inner.cancel(message);
  try {
    co_await inner;
  } catch (const CancelledError& e) {
    *seen = e.message();
    try {
      inner.result();
    } catch (const CancelledError& again) {
      *result_message = again.message();
    }
    throw;
  }
}

enum class AfterSelfCancel { raise, raise_fatal, return_value };

// Cancels its own task while it runs, then raises or returns without another await.
Task<int> cancel_self_then(const Task<int>* self, AfterSelfCancel then) {
  EXPECT_TRUE(self->cancel());
  if (then == AfterSelfCancel::raise) throw std::out_of_range("raised after cancel()");
  if (then == AfterSelfCancel::raise_fatal) throw loops::FatalError("fatal after cancel()");
  co_return 12;
}

// Cancels its own task, then awaits `gate`, or sleeps an hour if it is null.
Task<int> cancel_self_then_await(const Task<int>* self, Future<void> gate) {
  EXPECT_TRUE(self->cancel());
  if (gate.valid()) {
    co_await gate;
  } else {
    co_await loops::sleep(1h);
  }
  co_return 12;
}

Task<std::string> error_seen_by_awaiter(Task<int> task) {
  try {
    co_await task;
  } catch (const std::out_of_range& e) {
    co_return e.what();
  } catch (const CancelledError&) {
    co_return "CancelledError";
  }
  co_return "no error";
}

std::string joined(const Log& log) {
  std::string out;
  for (const auto& entry : log) out += (out.empty() ? "" : ",") + entry;
  return out;
}

// TASK-04's TypeError for "anything else" is a compile-time rejection here:
// gather (which applies ensure_future to each child) takes tasks and futures only.
template <class A>
concept GatherAccepts = requires(loops::EventLoop& loop, const A& child) {
  loops::gather(loop, child);
};
static_assert(GatherAccepts<Task<int>>);
static_assert(GatherAccepts<Future<int>>);
static_assert(!GatherAccepts<int>);
static_assert(!GatherAccepts<std::string>);

}  // namespace

TEST_P(Conformance, TASK_01) {
  int runs = 0;
  auto coroutine = counted_answer(&runs);
  EXPECT_EQ(runs, 0);
  EXPECT_FALSE(coroutine.scheduled());
  // Running the loop does not run an unscheduled coroutine either.
  run_once();
  EXPECT_EQ(runs, 0);
  EXPECT_FALSE(coroutine.done());

  auto task = loop().create_task(coroutine);
  EXPECT_EQ(runs, 0);
  EXPECT_EQ(loop().run_until_complete(task), 7);
  EXPECT_EQ(runs, 1);
}

TEST_P(Conformance, TASK_02) {
  Log log;
  std::uint64_t iteration = 0;
  bool loop_running = false;
  const std::uint64_t before = loop().iterations();
  auto task = loop().create_task(note_iteration(&log, &iteration, &loop_running));
  log.push_back("sync");
  EXPECT_EQ(log, (Log{"sync"}));
  run_once();
  EXPECT_EQ(log, (Log{"sync", "body"}));
  EXPECT_TRUE(loop_running);
  EXPECT_EQ(iteration, before + 1);
  EXPECT_TRUE(task.done());

  // ensure_future (applied by gather to a bare coroutine) schedules the same way.
  log.clear();
  auto gathered = loops::gather(loop(), note_iteration(&log, &iteration, &loop_running));
  log.push_back("sync");
  EXPECT_EQ(log, (Log{"sync"}));
  const std::uint64_t before_gather = loop().iterations();
  loop().run_until_complete(gathered);
  EXPECT_EQ(log, (Log{"sync", "body"}));
  EXPECT_EQ(iteration, before_gather + 1);
}

TEST_P(Conformance, TASK_03) {
  Log log;
  loop().call_soon([&] { log.push_back("A"); });
  auto task = loop().create_task(append(&log, "T"));
  loop().call_soon([&] { log.push_back("B"); });
  ASSERT_TRUE(log.empty()) << "the first step ran inside create_task (eager): " << joined(log);
  run_once();
  if (log == Log{"A", "T", "B"}) {
    EXPECT_TRUE(task.done());
    return;
  }
  // Not CPython's order: still a valid loop only if callbacks stayed FIFO and
  // the body runs once, in some later iteration.
  run_until([&] { return task.done(); });
  ASSERT_EQ(std::count(log.begin(), log.end(), "T"), 1) << joined(log);
  const auto a = std::find(log.begin(), log.end(), "A");
  const auto b = std::find(log.begin(), log.end(), "B");
  ASSERT_TRUE(a != log.end() && b != log.end() && a < b) << joined(log);
  record_compat(
      "first step not FIFO with call_soon: create_task(T) between call_soon(A) and call_soon(B) "
      "gave " +
      joined(log) + " (CPython: A,T,B)");
}

TEST_P(Conformance, TASK_04) {
  // A future is taken unchanged: completing it completes the gather, and
  // cancelling the gather cancels that very future.
  auto future = loop().create_future<int>();
  auto of_future = loops::gather(loop(), future);
  loop().call_soon([future] { future.set_result(3); });
  EXPECT_EQ(std::get<0>(loop().run_until_complete(of_future)), 3);
  auto pending = loop().create_future<int>();
  auto of_pending = loops::gather(loop(), pending);
  EXPECT_TRUE(of_pending.cancel());
  EXPECT_TRUE(pending.cancelled());

  // A task is taken unchanged: not scheduled again, its body runs once.
  int runs = 0;
  auto task = loop().create_task(counted_answer(&runs));
  auto of_task = loops::gather(loop(), task);
  EXPECT_EQ(std::get<0>(loop().run_until_complete(of_task)), 7);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(loop().run_until_complete(task), 7);
  EXPECT_EQ(runs, 1);

  // A coroutine is wrapped in a task of this loop.
  runs = 0;
  auto coroutine = counted_answer(&runs);
  ASSERT_FALSE(coroutine.scheduled());
  auto of_coroutine = loops::gather(loop(), coroutine);
  EXPECT_TRUE(coroutine.scheduled());
  EXPECT_EQ(&coroutine.get_loop(), &loop());
  EXPECT_EQ(runs, 0);
  EXPECT_EQ(std::get<0>(loop().run_until_complete(of_coroutine)), 7);
  EXPECT_TRUE(coroutine.done());
  EXPECT_EQ(coroutine.result(), 7);
  EXPECT_EQ(runs, 1);
  // Anything else: see the static_asserts on GatherAccepts above.
}

TEST_P(Conformance, TASK_05) {
  int runs = 0;
  auto answer = loop().create_task(counted_answer(&runs));
  EXPECT_EQ(loop().run_until_complete(answer), 7);
  EXPECT_EQ(answer.result(), 7);
  EXPECT_EQ(answer.exception(), nullptr);
  EXPECT_FALSE(answer.cancelled());

  auto gate = loop().create_future<void>();
  auto bad = loop().create_task(fail_if(true, gate));
  int caught = 0;
  auto first = loop().create_task(catch_key_error(bad, &caught));
  auto second = loop().create_task(catch_key_error(bad, &caught));
  run_once();
  gate.set_result();
  run_until([&] { return first.done() && second.done(); });
  EXPECT_EQ(caught, 2) << "every awaiter gets the stored error";
  EXPECT_TRUE(bad.done());
  EXPECT_FALSE(bad.cancelled());
  const auto error = bad.exception();
  ASSERT_NE(error, nullptr);
  EXPECT_THROW(std::rethrow_exception(error), std::out_of_range);
  EXPECT_THROW(bad.result(), std::out_of_range);
  EXPECT_THROW(loop().run_until_complete(bad), std::out_of_range);
}

TEST_P(Conformance, TASK_06) {
  Log log;
  auto first = loop().create_future<void>();
  auto second = loop().create_future<void>();
  auto task = loop().create_task(await_two(first, second, &log));
  run_once();
  first.set_result();
  run_once();
  ASSERT_EQ(log, (Log{"resumed-first"}));
  EXPECT_TRUE(task.cancel());
  // Arranged, not thrown inside cancel(): it arrives on the next cycle.
  EXPECT_EQ(log, (Log{"resumed-first"}));
  EXPECT_FALSE(task.done());
  run_once();
  EXPECT_EQ(log, (Log{"resumed-first", "cancelled-at-second"}));
  EXPECT_TRUE(task.done());
  EXPECT_TRUE(task.cancelled());
  EXPECT_THROW(task.result(), CancelledError);
  EXPECT_THROW(loop().run_until_complete(task), CancelledError);
}

TEST_P(Conformance, TASK_07) {
  bool caught = false;
  auto future = loop().create_future<void>();
  auto task = loop().create_task(suppress_cancel(future, &caught));
  run_once();
  EXPECT_TRUE(task.cancel());
  EXPECT_EQ(loop().run_until_complete(task), 42);
  EXPECT_TRUE(caught);
  EXPECT_FALSE(task.cancelled());
  EXPECT_EQ(task.exception(), nullptr);
}

TEST_P(Conformance, TASK_08) {
  auto future = loop().create_future<void>();
  auto task = loop().create_task(await_void(future));
  run_once();
  EXPECT_FALSE(future.cancelled());
  EXPECT_TRUE(task.cancel());
  EXPECT_THROW(loop().run_until_complete(task), CancelledError);
  EXPECT_TRUE(future.cancelled());
  EXPECT_TRUE(task.cancelled());

  // An awaited task is a future too: cancelling the outer task cancels it.
  auto inner_future = loop().create_future<void>();
  auto inner = loop().create_task(await_void(inner_future));
  auto outer = loop().create_task(await_task(inner));
  run_once();
  EXPECT_TRUE(outer.cancel());
  EXPECT_THROW(loop().run_until_complete(outer), CancelledError);
  EXPECT_TRUE(inner.cancelled());
  EXPECT_TRUE(inner_future.cancelled());
  EXPECT_TRUE(outer.cancelled());
}

TEST_P(Conformance, TASK_09) {
  bool caught = false;
  auto future = loop().create_future<void>();
  auto task = loop().create_task(return_after(future, &caught));
  run_once();
  EXPECT_TRUE(future.cancel());
  EXPECT_THROW(loop().run_until_complete(task), CancelledError);
  EXPECT_TRUE(caught) << "CancelledError raised inside the task";
  EXPECT_TRUE(future.cancelled());
  EXPECT_TRUE(task.cancelled());

  // Caught: the task goes on and finishes normally.
  bool suppressed = false;
  auto other_future = loop().create_future<void>();
  auto other = loop().create_task(suppress_cancel(other_future, &suppressed));
  run_once();
  EXPECT_TRUE(other_future.cancel());
  EXPECT_EQ(loop().run_until_complete(other), 42);
  EXPECT_TRUE(suppressed);
  EXPECT_FALSE(other.cancelled());
}

TEST_P(Conformance, TASK_10) {
  int runs = 0;
  auto task = loop().create_task(counted_answer(&runs));
  EXPECT_TRUE(task.cancel());
  EXPECT_THROW(loop().run_until_complete(task), CancelledError);
  EXPECT_EQ(runs, 0);
  EXPECT_TRUE(task.done());
  EXPECT_TRUE(task.cancelled());
}

TEST_P(Conformance, TASK_12) {
  // Not started yet, as in CPython's test_cancelling.
  auto fresh = loop().create_task(sleep_long());
  EXPECT_EQ(fresh.cancelling(), 0);
  EXPECT_TRUE(fresh.cancel());
  EXPECT_EQ(fresh.cancelling(), 1);
  EXPECT_TRUE(fresh.cancel());
  EXPECT_EQ(fresh.cancelling(), 2);
  EXPECT_THROW(loop().run_until_complete(fresh), CancelledError);
  EXPECT_FALSE(fresh.cancel());
  EXPECT_EQ(fresh.cancelling(), 2);

  // Suspended in sleep.
  auto sleeping = loop().create_task(sleep_long());
  run_once();
  EXPECT_TRUE(sleeping.cancel());
  EXPECT_TRUE(sleeping.cancel());
  EXPECT_EQ(sleeping.cancelling(), 2);
  EXPECT_THROW(loop().run_until_complete(sleeping), CancelledError);
  EXPECT_FALSE(sleeping.cancel());
  EXPECT_EQ(sleeping.cancelling(), 2);

  // Finished normally.
  int runs = 0;
  auto finished = loop().create_task(counted_answer(&runs));
  EXPECT_EQ(loop().run_until_complete(finished), 7);
  EXPECT_FALSE(finished.cancel());
  EXPECT_FALSE(finished.cancelled());
  EXPECT_EQ(finished.cancelling(), 0);
  EXPECT_EQ(finished.result(), 7);
}

TEST_P(Conformance, TASK_13) {
  int runs = 0;
  auto task = loop().create_task(counted_answer(&runs));
  Future<int> seen_as_future = task.as_future();
  EXPECT_THROW(seen_as_future.set_result(1), loops::RuntimeError);
  EXPECT_THROW(seen_as_future.set_exception(loops::ValueError("x")), loops::RuntimeError);
  EXPECT_FALSE(task.done());
  EXPECT_EQ(loop().run_until_complete(task), 7);
  // Still RuntimeError, not InvalidStateError, once done.
  EXPECT_THROW(seen_as_future.set_result(1), loops::RuntimeError);
  EXPECT_THROW(seen_as_future.set_exception(loops::ValueError("x")), loops::RuntimeError);
  EXPECT_EQ(task.result(), 7);

  auto void_task = loop().create_task(sleep_long());
  Future<void> void_future = void_task;
  EXPECT_THROW(void_future.set_result(), loops::RuntimeError);
  EXPECT_FALSE(void_task.done());
  void_task.cancel();
  EXPECT_THROW(loop().run_until_complete(void_task), CancelledError);
}

TEST_P(Conformance, TASK_14) {
  std::optional<std::string> seen;
  std::optional<std::string> result_message;
  const auto escaped = cancelled_message(
      [&] { loop().run_until_complete(cancel_and_await("my message", &seen, &result_message)); });
  EXPECT_EQ(seen, "my message");
  EXPECT_EQ(result_message, "my message");
  EXPECT_EQ(escaped, "my message");

  // No message stays no message.
  seen.reset();
  result_message.reset();
  const auto plain = cancelled_message(
      [&] { loop().run_until_complete(cancel_and_await("", &seen, &result_message)); });
  EXPECT_EQ(seen, "");
  EXPECT_EQ(plain, "");

  // Cancelled before its first step.
  int runs = 0;
  auto early = loop().create_task(counted_answer(&runs));
  early.cancel("early");
  EXPECT_EQ(cancelled_message([&] { loop().run_until_complete(early); }), "early");
  EXPECT_EQ(runs, 0);
}

TEST_P(Conformance, TASK_SELF_CANCEL_01) {
  Task<int> raises;
  raises = loop().create_task(cancel_self_then(&raises, AfterSelfCancel::raise));
  auto awaiter = loop().create_task(error_seen_by_awaiter(raises));
  EXPECT_THROW(loop().run_until_complete(raises), std::out_of_range);
  EXPECT_TRUE(raises.done());
  EXPECT_FALSE(raises.cancelled()) << "the pending cancel won over the raised error";
  EXPECT_THROW(std::rethrow_exception(raises.exception()), std::out_of_range);
  EXPECT_EQ(loop().run_until_complete(awaiter), "raised after cancel()");
  EXPECT_FALSE(raises.cancel()) << "a done task accepted cancel()";

  Task<int> fatal;
  fatal = loop().create_task(cancel_self_then(&fatal, AfterSelfCancel::raise_fatal));
  EXPECT_THROW(loop().run_until_complete(fatal), loops::FatalError);
  EXPECT_TRUE(fatal.done());
  EXPECT_FALSE(fatal.cancelled());
  EXPECT_FALSE(loop().is_running());
  int runs = 0;
  EXPECT_EQ(loop().run_until_complete(counted_answer(&runs)), 7)
      << "the loop did not run again after the fatal error";

  // The returning case, CPython's test_cancel_at_end: the cancel wins.
  Task<int> returns;
  returns = loop().create_task(cancel_self_then(&returns, AfterSelfCancel::return_value));
  EXPECT_THROW(loop().run_until_complete(returns), CancelledError);
  EXPECT_TRUE(returns.cancelled());

  // The next await, CPython's test_cancel_current_task: it raises at once, and
  // the awaited future (or the sleep) is cancelled with it.
  auto gate = loop().create_future<void>();
  Task<int> awaits;
  awaits = loop().create_task(cancel_self_then_await(&awaits, gate));
  Task<int> sleeps;
  sleeps = loop().create_task(cancel_self_then_await(&sleeps, Future<void>()));
  ASSERT_NO_FATAL_FAILURE(run_until([&] { return awaits.done() && sleeps.done(); }));
  EXPECT_TRUE(awaits.cancelled());
  EXPECT_TRUE(gate.cancelled()) << "the awaited future was not cancelled";
  EXPECT_TRUE(sleeps.cancelled());
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

}  // namespace conformance
