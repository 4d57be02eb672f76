// SEMANTICS.md area 6: gather (GATHER-*).
#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "harness.hpp"

namespace conformance {
namespace {

using loops::CancelledError;
using loops::Future;
using loops::Task;

Task<int> answer(int value) {
  co_return value;
}

template <class T>
Task<T> echo(Future<T> future) {
  co_return co_await future;
}

// Awaits `gate`, then fails with ValueError or returns 1.
Task<int> fail_if(bool fail, Future<void> gate) {
  co_await gate;
  if (fail) throw loops::ValueError("bad");
  co_return 1;
}

// Awaits `future` and says how it ended: "result" or "cancelled".
template <class R>
Task<void> await_recording(Future<R> future, std::string* how) {
  try {
    co_await future;
    *how = "result";
  } catch (const CancelledError&) {
    *how = "cancelled";
    throw;
  }
}

// CPython's test_cancellation_broadcast: the outer task owns the gather.
Task<void> outer_gathering(Task<int> a, Task<int> b, Future<std::tuple<int, int>>* gatherer,
                           int* proof) {
  *gatherer = loops::gather(a, b);
  co_await *gatherer;
  *proof += 100;
}

Task<int> inner_waiting(Future<void> waiter, int* proof) {
  co_await waiter;
  *proof += 1;
  co_return 0;
}

Task<void> nap(std::chrono::nanoseconds delay) {
  co_await loops::sleep(delay);
}

// CPython's test_cancel_gather_2: a task that keeps gathering with
// return_exceptions, cancelled from outside while it waits on a gather.
Task<void> keep_gathering(int* rounds) {
  for (int i = 0; i < 1000; ++i) {
    co_await loops::gather(loops::return_exceptions, nap(5ms));
    ++*rounds;
  }
}

Task<void> cancel_gatherer(std::string message, int* rounds) {
  auto gatherer = loops::get_running_loop().create_task(keep_gathering(rounds));
  // Cancel only once a gather round has completed: a time-based wait would
  // race the rounds on a starved machine.
  while (*rounds < 1) co_await loops::sleep(1ms);
  gatherer.cancel(message);
  co_await gatherer;
}

}  // namespace

TEST_P(Conformance, GATHER_01) {
  auto a = loop().create_future<int>();
  auto b = loop().create_future<int>();
  auto c = loop().create_future<int>();
  auto gathered = loops::gather(loop(), a, b, c);
  b.set_result(2);
  run_once();
  a.set_result(1);
  run_once();
  EXPECT_FALSE(gathered.done());
  c.set_result(3);
  EXPECT_EQ(loop().run_until_complete(gathered), std::make_tuple(1, 2, 3));

  // Range form, with tasks finishing c, a, b.
  std::vector<Future<int>> gates;
  std::vector<Task<int>> children;
  for (int i = 0; i < 3; ++i) {
    gates.push_back(loop().create_future<int>());
    children.push_back(echo(gates.back()));
  }
  auto ranged = loops::gather(loop(), children);
  std::vector<int> finished;
  for (int i = 0; i < 3; ++i)
    children[i].add_done_callback([&finished, i](const Future<int>&) { finished.push_back(i); });
  run_once();
  for (int i : {2, 0, 1}) {
    gates[i].set_result(10 * (i + 1));
    run_until([&] { return children[i].done(); });
  }
  EXPECT_EQ(loop().run_until_complete(ranged), (std::vector<int>{10, 20, 30}));
  EXPECT_EQ(finished, (std::vector<int>{2, 0, 1}));
}

TEST_P(Conformance, GATHER_02) {
  auto bad_gate = loop().create_future<void>();
  auto good_gate = loop().create_future<void>();
  auto bad = loop().create_task(fail_if(true, bad_gate));
  auto good = loop().create_task(fail_if(false, good_gate));
  auto gathered = loops::gather(loop(), bad, good);
  run_once();
  bad_gate.set_result();
  EXPECT_THROW(loop().run_until_complete(gathered), loops::ValueError);
  EXPECT_FALSE(good.done()) << "the error must reach the awaiter before the sibling finishes";
  EXPECT_FALSE(good.cancelled());
  // Already done: cancelling the gather does not reach the sibling.
  EXPECT_FALSE(gathered.cancel());
  EXPECT_FALSE(good.cancelled());
  EXPECT_FALSE(good_gate.cancelled());
  good_gate.set_result();
  EXPECT_EQ(loop().run_until_complete(good), 1);
  EXPECT_FALSE(good.cancelled());
}

TEST_P(Conformance, GATHER_03) {
  auto a = loop().create_future<int>();
  auto b = loop().create_future<int>();
  auto c = loop().create_future<int>();
  auto d = loop().create_future<int>();
  auto gathered = loops::gather(loop(), loops::return_exceptions, a, b, c, d);
  b.set_result(1);
  c.set_exception(loops::ValueError("c"));
  a.set_result(3);
  run_once();
  run_once();
  EXPECT_FALSE(gathered.done()) << "done before every child finished";
  d.set_exception(loops::TypeError("d"));
  const auto outcomes = loop().run_until_complete(gathered);
  EXPECT_EQ(gathered.exception(), nullptr);
  EXPECT_EQ(std::get<0>(outcomes).get(), 3);
  EXPECT_EQ(std::get<1>(outcomes).get(), 1);
  EXPECT_FALSE(std::get<2>(outcomes).ok());
  EXPECT_THROW(std::get<2>(outcomes).get(), loops::ValueError);
  EXPECT_FALSE(std::get<3>(outcomes).ok());
  EXPECT_THROW(std::get<3>(outcomes).get(), loops::TypeError);

  // Range form.
  std::vector<Future<int>> children;
  for (int i = 0; i < 3; ++i) children.push_back(loop().create_future<int>());
  auto ranged = loops::gather(loop(), loops::return_exceptions, children);
  children[1].set_exception(loops::ValueError("1"));
  run_once();
  EXPECT_FALSE(ranged.done());
  children[2].set_result(2);
  children[0].set_result(0);
  const auto list = loop().run_until_complete(ranged);
  ASSERT_EQ(list.size(), 3U);
  EXPECT_EQ(list[0].get(), 0);
  EXPECT_THROW(list[1].get(), loops::ValueError);
  EXPECT_EQ(list[2].get(), 2);
  // The errors went to the list, not to the loop's exception handler.
  EXPECT_TRUE(handled_errors.empty());
}

TEST_P(Conformance, GATHER_04) {
  auto gate1 = loop().create_future<void>();
  auto gate2 = loop().create_future<void>();
  auto child1 = loop().create_task(fail_if(false, gate1));
  auto child2 = loop().create_task(fail_if(false, gate2));
  auto child3 = loop().create_task(answer(3));
  auto gathered = loops::gather(loop(), child1, child2, child3);
  std::string how;
  auto awaiter = loop().create_task(await_recording(gathered, &how));
  run_until([&] { return child3.done(); });
  run_once();
  EXPECT_TRUE(gathered.cancel());
  run_until([&] { return awaiter.done() && child1.done() && child2.done(); });
  EXPECT_EQ(how, "cancelled");
  EXPECT_TRUE(child1.cancelled());
  EXPECT_TRUE(child2.cancelled());
  EXPECT_TRUE(gate1.cancelled());
  EXPECT_FALSE(child3.cancelled()) << "a finished child is left alone";
  EXPECT_EQ(child3.result(), 3);
  EXPECT_THROW(gathered.result(), CancelledError);
  RecordProperty("gather_cancelled", gathered.cancelled() ? "true" : "false");

  // Cancelling the task that awaits the gather broadcasts to the children.
  int proof = 0;
  auto waiter = loop().create_future<void>();
  auto inner1 = loop().create_task(inner_waiting(waiter, &proof));
  auto inner2 = loop().create_task(inner_waiting(waiter, &proof));
  Future<std::tuple<int, int>> gatherer;
  auto outer = loop().create_task(outer_gathering(inner1, inner2, &gatherer, &proof));
  run_once();
  EXPECT_TRUE(outer.cancel());
  EXPECT_THROW(loop().run_until_complete(outer), CancelledError);
  ASSERT_TRUE(gatherer.valid());
  EXPECT_FALSE(gatherer.cancel());
  EXPECT_TRUE(waiter.cancelled());
  EXPECT_TRUE(inner1.cancelled());
  EXPECT_TRUE(inner2.cancelled());
  run_once();
  EXPECT_EQ(proof, 0);
}

TEST_P(Conformance, GATHER_05) {
  std::vector<Future<int>> f;
  for (int i = 0; i < 5; ++i) f.push_back(loop().create_future<int>());
  auto sibling_gate = loop().create_future<int>();
  auto sibling = loop().create_task(echo(sibling_gate));
  auto gathered = loops::gather(loop(), f[0], f[1], f[2], f[3], f[4], sibling);
  int callbacks = 0;
  gathered.add_done_callback([&callbacks](const auto&) { ++callbacks; });
  f[0].set_result(1);
  f[1].cancel();
  run_once();
  run_once();
  EXPECT_TRUE(gathered.done());
  EXPECT_EQ(callbacks, 1);
  EXPECT_FALSE(gathered.cancelled());
  const auto error = gathered.exception();
  ASSERT_NE(error, nullptr);
  EXPECT_THROW(std::rethrow_exception(error), CancelledError);
  EXPECT_THROW(loop().run_until_complete(gathered), CancelledError);
  for (int i : {2, 3, 4}) EXPECT_FALSE(f[i].done()) << "sibling " << i << " was touched";
  EXPECT_FALSE(sibling.done());

  // The rest finishing later changes nothing.
  f[2].set_result(3);
  f[3].cancel();
  f[4].set_exception(std::runtime_error("late"));
  (void)f[4].exception();
  sibling_gate.set_result(9);
  EXPECT_EQ(loop().run_until_complete(sibling), 9);
  EXPECT_FALSE(sibling.cancelled());
  run_once();
  EXPECT_EQ(callbacks, 1);
  EXPECT_FALSE(gathered.cancelled());
}

TEST_P(Conformance, GATHER_06) {
  auto a = loop().create_future<int>();
  auto b = loop().create_future<int>();
  auto c = loop().create_future<int>();
  auto gathered = loops::gather(loop(), loops::return_exceptions, a, b, c);
  a.set_result(1);
  b.set_exception(std::out_of_range("key"));
  c.cancel();
  const auto outcomes = loop().run_until_complete(gathered);
  EXPECT_FALSE(gathered.cancelled());
  EXPECT_EQ(gathered.exception(), nullptr);
  EXPECT_EQ(std::get<0>(outcomes).get(), 1);
  EXPECT_THROW(std::get<1>(outcomes).get(), std::out_of_range);
  EXPECT_FALSE(std::get<1>(outcomes).cancelled());
  EXPECT_TRUE(std::get<2>(outcomes).cancelled());
  EXPECT_THROW(std::get<2>(outcomes).get(), CancelledError);
}

TEST_P(Conformance, GATHER_07) {
  auto empty_tuple = loops::gather(loop());
  EXPECT_TRUE(empty_tuple.done());
  EXPECT_EQ(empty_tuple.result(), std::tuple<>());
  auto empty_range = loops::gather(loop(), std::vector<Task<int>>{});
  EXPECT_TRUE(empty_range.done());
  EXPECT_TRUE(empty_range.result().empty());

  // With no loop argument: the running loop's.
  bool done_at_once = false;
  std::size_t size = 1;
  loop().call_soon([&] {
    auto gathered = loops::gather(std::vector<Future<int>>{});
    done_at_once = gathered.done();
    if (done_at_once) size = gathered.result().size();
  });
  run_once();
  EXPECT_TRUE(done_at_once);
  EXPECT_EQ(size, 0U);
}

TEST_P(Conformance, GATHER_09) {
  for (const bool keep_errors : {true, false}) {
    SCOPED_TRACE(keep_errors ? "return_exceptions" : "no return_exceptions");
    auto gate1 = loop().create_future<void>();
    auto gate2 = loop().create_future<void>();
    auto child1 = loop().create_task(fail_if(false, gate1));
    auto child2 = loop().create_task(fail_if(false, gate2));
    std::string how;
    Task<void> awaiter;
    if (keep_errors) {
      auto gathered = loops::gather(loop(), loops::return_exceptions, child1, child2);
      awaiter = loop().create_task(await_recording(gathered, &how));
      run_once();
      EXPECT_TRUE(gathered.cancel());
    } else {
      auto gathered = loops::gather(loop(), child1, child2);
      awaiter = loop().create_task(await_recording(gathered, &how));
      run_once();
      EXPECT_TRUE(gathered.cancel());
    }
    run_until([&] { return awaiter.done() && child1.done() && child2.done(); });
    EXPECT_EQ(how, "cancelled");
    EXPECT_TRUE(awaiter.cancelled());
    EXPECT_TRUE(child1.cancelled());
    EXPECT_TRUE(child2.cancelled());
  }

  // The cancel message travels through the gather (test_cancel_gather_2).
  for (const std::string message : {"my message", ""}) {
    int rounds = 0;
    const auto escaped =
        cancelled_message([&] { loop().run_until_complete(cancel_gatherer(message, &rounds)); });
    EXPECT_EQ(escaped, message);
    EXPECT_GE(rounds, 1);
  }
}

TEST_P(Conformance, GATHER_10) {
  auto other = loops::make_loop(backend());
  {
    auto mine = loop().create_future<int>();
    auto theirs = other->create_future<int>();
    EXPECT_THROW(loops::gather(mine, theirs), loops::ValueError);
    EXPECT_THROW(loops::gather(std::vector<Future<int>>{mine, theirs}), loops::ValueError);
    EXPECT_THROW(loops::gather(loop(), theirs), loops::ValueError);
    EXPECT_THROW(loops::gather(loop(), loops::return_exceptions, answer(1), theirs),
                 loops::ValueError);
    // Same-loop children are accepted.
    auto accepted = loops::gather(mine, loop().create_future<int>());
    EXPECT_FALSE(accepted.done());
    EXPECT_TRUE(accepted.cancel());
  }
  other->close();
}

}  // namespace conformance
