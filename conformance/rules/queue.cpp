// SEMANTICS.md area 8: Queue (Q-*), including 3.13's shutdown (Q-SD-*).
#include <algorithm>
#include <exception>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace conformance {
namespace {

using loops::Queue;
using loops::Task;

template <class T>
Task<T> get_from(Queue<T>& queue) {
  co_return co_await queue.get();
}

template <class T>
Task<void> put_into(Queue<T>& queue, T item) {
  co_await queue.put(std::move(item));
}

// Gets one item and logs (name, item).
Task<void> named_getter(Queue<int>& queue, std::vector<std::pair<char, int>>& log, char name) {
  const int item = co_await queue.get();
  log.emplace_back(name, item);
}

// Puts `name` and logs it once the put has completed.
Task<void> named_putter(Queue<char>& queue, std::string& log, char name) {
  co_await queue.put(name);
  log += name;
}

}  // namespace

// --- Basic behaviour --------------------------------------------------------------------

TEST_P(Conformance, Q_01) {
  Queue<int> queue;
  const std::vector<int> items{3, 1, 4, 1, 5, 9, 2, 6};
  const auto got = loop().run_until_complete([&]() -> Task<std::vector<int>> {
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i % 2 == 0) {
        queue.put_nowait(items[i]);
      } else {
        co_await queue.put(items[i]);
      }
    }
    std::vector<int> out;
    while (!queue.empty()) {
      if (out.size() % 2 == 0) {
        out.push_back(queue.get_nowait());
      } else {
        out.push_back(co_await queue.get());
      }
    }
    co_return out;
  }());
  EXPECT_EQ(got, items);

  // Still FIFO when gets are interleaved with puts while the queue keeps
  // growing (its storage is reused from the front and then enlarged).
  Queue<int> growing;
  std::vector<int> drained;
  for (int i = 0; i < 6; ++i) growing.put_nowait(i);
  for (int i = 0; i < 4; ++i) drained.push_back(growing.get_nowait());
  for (int i = 6; i < 40; ++i) growing.put_nowait(i);
  while (!growing.empty()) drained.push_back(growing.get_nowait());
  std::vector<int> in_order(40);
  std::iota(in_order.begin(), in_order.end(), 0);
  EXPECT_EQ(drained, in_order);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, Q_02) {
  // maxsize=3, 50 items through a producer and a slower consumer.
  {
    Queue<int> queue(3);
    std::size_t largest = 0;
    std::vector<int> received;
    auto producer = [](Queue<int>& q, std::size_t& largest) -> Task<void> {
      for (int i = 0; i < 50; ++i) {
        co_await q.put(i);
        largest = std::max(largest, q.qsize());
      }
    };
    auto consumer = [](Queue<int>& q, std::size_t& largest, std::vector<int>& out) -> Task<void> {
      for (int i = 0; i < 50; ++i) {
        co_await loops::sleep(0s);
        largest = std::max(largest, q.qsize());
        out.push_back(co_await q.get());
      }
    };
    loop().run_until_complete(
        loops::gather(loop(), producer(queue, largest), consumer(queue, largest, received)));
    EXPECT_EQ(largest, 3U) << "the queue must fill up to maxsize and never beyond";
    ASSERT_EQ(received.size(), 50U);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(received[i], i);
  }

  // maxsize=2: the producer stalls after [0, 1] and resumes only when a get
  // frees a slot.
  Queue<int> queue(2);
  std::vector<int> put_done;
  auto producer = loop().create_task([](Queue<int>& q, std::vector<int>& log) -> Task<void> {
    for (int i = 0; i < 4; ++i) {
      co_await q.put(i);
      log.push_back(i);
    }
  }(queue, put_done));
  for (int i = 0; i < 5; ++i) run_once();
  EXPECT_EQ(put_done, (std::vector<int>{0, 1}));
  EXPECT_EQ(queue.qsize(), 2U);
  EXPECT_FALSE(producer.done());

  EXPECT_EQ(queue.get_nowait(), 0);
  for (int i = 0; i < 5; ++i) run_once();
  EXPECT_EQ(put_done, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(queue.qsize(), 2U);
  EXPECT_FALSE(producer.done());

  EXPECT_EQ(queue.get_nowait(), 1);
  loop().run_until_complete(producer);
  EXPECT_EQ(put_done, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, Q_03) {
  for (const long maxsize : {-5L, 0L}) {
    SCOPED_TRACE("maxsize=" + std::to_string(maxsize));
    Queue<int> queue(maxsize);
    int refused = 0;
    for (int i = 0; i < 1000; ++i) {
      try {
        queue.put_nowait(i);
      } catch (const loops::QueueFull&) {
        ++refused;
      }
      if (queue.full()) ++refused;
    }
    EXPECT_EQ(refused, 0);
    EXPECT_EQ(queue.qsize(), 1000U);
    EXPECT_FALSE(queue.full());

    // The awaitable put does not wait either: 1000 more complete in one step.
    auto putter = loop().create_task([](Queue<int>& q) -> Task<void> {
      for (int i = 0; i < 1000; ++i) co_await q.put(i);
    }(queue));
    run_once();
    EXPECT_TRUE(putter.done());
    EXPECT_EQ(queue.qsize(), 2000U);
    EXPECT_FALSE(queue.full());
  }
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, Q_04) {
  Queue<int> queue(1);
  queue.put_nowait(1);
  EXPECT_THROW(queue.put_nowait(2), loops::QueueFull);
  EXPECT_EQ(queue.qsize(), 1U);
  EXPECT_EQ(queue.get_nowait(), 1);
  EXPECT_THROW(queue.get_nowait(), loops::QueueEmpty);
  EXPECT_EQ(queue.qsize(), 0U);
  EXPECT_NO_THROW(queue.put_nowait(3));
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

// --- join and task_done -----------------------------------------------------------------

TEST_P(Conformance, Q_05) {
  Queue<int> queue;
  for (int i = 0; i < 3; ++i) queue.put_nowait(i);
  auto joiner = loop().create_task(queue.join());
  for (int i = 0; i < 3; ++i) run_once();
  EXPECT_FALSE(joiner.done());

  // Taking the items is not enough: only task_done() lowers the count.
  for (int i = 0; i < 3; ++i) queue.get_nowait();
  for (int i = 0; i < 3; ++i) run_once();
  EXPECT_FALSE(joiner.done()) << "get() alone released join()";

  queue.task_done();
  queue.task_done();
  for (int i = 0; i < 3; ++i) run_once();
  EXPECT_FALSE(joiner.done());
  queue.task_done();
  for (int i = 0; i < 3; ++i) run_once();
  EXPECT_TRUE(joiner.done());

  // Nothing outstanding: join() returns in its first step.
  Queue<int> fresh;
  auto at_once = loop().create_task(fresh.join());
  auto again = loop().create_task(queue.join());
  run_once();
  EXPECT_TRUE(at_once.done());
  EXPECT_TRUE(again.done());
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, Q_06) {
  Queue<int> fresh;
  EXPECT_THROW(fresh.task_done(), loops::ValueError);

  Queue<int> queue;
  queue.put_nowait(1);
  queue.get_nowait();
  EXPECT_NO_THROW(queue.task_done());
  EXPECT_THROW(queue.task_done(), loops::ValueError);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

// --- Waiters and cancellation -----------------------------------------------------------

TEST_P(Conformance, Q_07) {
  // Blocked getters x, y, z are served in order.
  Queue<int> numbers;
  std::vector<std::pair<char, int>> got;
  std::vector<Task<void>> getters;
  for (const char name : {'x', 'y', 'z'}) {
    getters.push_back(loop().create_task(named_getter(numbers, got, name)));
  }
  run_once();
  ASSERT_TRUE(got.empty());
  for (int i = 1; i <= 3; ++i) numbers.put_nowait(i);
  // Each put went to a waiting getter rather than piling up.
  loop().run_until_complete(loops::gather(getters));
  EXPECT_EQ(got, (std::vector<std::pair<char, int>>{{'x', 1}, {'y', 2}, {'z', 3}}));
  EXPECT_TRUE(numbers.empty());

  // Blocked putters a, b, c on a full queue complete in order.
  Queue<char> letters(1);
  letters.put_nowait('0');
  std::string put_log;
  std::vector<Task<void>> putters;
  for (const char name : {'a', 'b', 'c'}) {
    putters.push_back(loop().create_task(named_putter(letters, put_log, name)));
  }
  run_once();
  ASSERT_TRUE(put_log.empty());
  const std::string drained = loop().run_until_complete([&]() -> Task<std::string> {
    std::string out;
    for (int i = 0; i < 4; ++i) out += co_await letters.get();
    co_return out;
  }());
  loop().run_until_complete(loops::gather(putters));
  EXPECT_EQ(drained, "0abc");
  EXPECT_EQ(put_log, "abc");

  // A producer and a consumer on a maxsize=1 queue never deadlock.
  Queue<int> one(1);
  std::vector<int> consumed;
  auto producer = [](Queue<int>& q) -> Task<void> {
    for (int i = 0; i < 20; ++i) co_await q.put(i);
  };
  auto consumer = [](Queue<int>& q, std::vector<int>& out) -> Task<void> {
    for (int i = 0; i < 20; ++i) out.push_back(co_await q.get());
  };
  loop().run_until_complete(loops::gather(loop(), consumer(one, consumed), producer(one)));
  EXPECT_EQ(consumed.size(), 20U);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, Q_08) {
  // One reader, woken by put(1) and then cancelled: 1 is not lost.
  {
    Queue<int> queue;
    auto reader = loop().create_task(get_from(queue));
    run_once();
    queue.put_nowait(1);
    queue.put_nowait(2);
    reader.cancel();
    EXPECT_THROW(loop().run_until_complete(reader), loops::CancelledError);
    EXPECT_EQ(queue.qsize(), 2U);
    EXPECT_EQ(loop().run_until_complete(get_from(queue)), 1) << "item 1 was dropped";
    EXPECT_EQ(queue.qsize(), 1U);
  }

  // Three readers; the first is cancelled after being woken: its wake-up
  // passes to the next waiter, and the two others get both items.
  Queue<int> queue;
  auto reader1 = loop().create_task(get_from(queue));
  auto reader2 = loop().create_task(get_from(queue));
  auto reader3 = loop().create_task(get_from(queue));
  run_once();
  queue.put_nowait(1);
  queue.put_nowait(2);
  reader1.cancel();
  EXPECT_THROW(loop().run_until_complete(reader1), loops::CancelledError);
  run_until([&] { return reader2.done() && reader3.done(); }, 2000ms);
  ASSERT_TRUE(reader2.done() && reader3.done());
  EXPECT_EQ((std::set<int>{reader2.result(), reader3.result()}), (std::set<int>{1, 2}));
  EXPECT_TRUE(queue.empty());
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

// --- Shutdown (3.13) --------------------------------------------------------------------

TEST_P(Conformance, Q_SD_01) {
  Queue<int> queue(1);
  queue.put_nowait(1);
  auto blocked = loop().create_task(put_into(queue, 2));
  run_once();
  ASSERT_FALSE(blocked.done());

  queue.shutdown();
  for (int i = 0; i < 3; ++i) run_once();
  ASSERT_TRUE(blocked.done()) << "a blocked putter must be woken by shutdown()";
  EXPECT_FALSE(blocked.cancelled());
  EXPECT_TRUE(holds<loops::QueueShutDown>(blocked.exception()));

  // Shutdown wins over "full", and over "has room".
  EXPECT_THROW(queue.put_nowait(3), loops::QueueShutDown);
  EXPECT_THROW(loop().run_until_complete(put_into(queue, 4)), loops::QueueShutDown);
  EXPECT_EQ(queue.qsize(), 1U);
  Queue<int> roomy;
  roomy.shutdown();
  EXPECT_THROW(roomy.put_nowait(1), loops::QueueShutDown);
  EXPECT_THROW(loop().run_until_complete(put_into(roomy, 2)), loops::QueueShutDown);
  EXPECT_EQ(roomy.qsize(), 0U);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, Q_SD_02) {
  // The items left are still gettable; then QueueShutDown, not QueueEmpty.
  Queue<int> queue;
  queue.put_nowait(1);
  queue.put_nowait(2);
  queue.shutdown(false);
  EXPECT_EQ(queue.get_nowait(), 1);
  EXPECT_EQ(loop().run_until_complete(get_from(queue)), 2);
  EXPECT_THROW(queue.get_nowait(), loops::QueueShutDown);
  EXPECT_THROW(loop().run_until_complete(get_from(queue)), loops::QueueShutDown);

  // A getter blocked on an empty queue is woken with QueueShutDown.
  Queue<int> empty;
  auto blocked = loop().create_task(get_from(empty));
  run_once();
  ASSERT_FALSE(blocked.done());
  empty.shutdown(false);
  for (int i = 0; i < 3; ++i) run_once();
  ASSERT_TRUE(blocked.done()) << "a blocked getter must be woken by shutdown()";
  EXPECT_FALSE(blocked.cancelled());
  EXPECT_TRUE(holds<loops::QueueShutDown>(blocked.exception()));
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, Q_SD_03) {
  Queue<int> queue;
  queue.put_nowait(1);
  queue.put_nowait(2);
  auto joiner = loop().create_task(queue.join());
  run_once();
  queue.shutdown(false);
  for (int i = 0; i < 3; ++i) run_once();
  EXPECT_FALSE(joiner.done()) << "a graceful shutdown must not release join()";

  queue.get_nowait();
  queue.task_done();
  for (int i = 0; i < 3; ++i) run_once();
  EXPECT_FALSE(joiner.done());
  queue.get_nowait();
  queue.task_done();
  for (int i = 0; i < 3; ++i) run_once();
  EXPECT_TRUE(joiner.done());
  EXPECT_FALSE(joiner.cancelled());
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, Q_SD_04) {
  Queue<int> queue;
  for (int i = 0; i < 3; ++i) queue.put_nowait(i);
  EXPECT_EQ(queue.get_nowait(), 0);  // Taken, not yet task_done().
  auto joiner = loop().create_task(queue.join());
  run_once();
  queue.shutdown(true);
  EXPECT_EQ(queue.qsize(), 0U);
  EXPECT_THROW(queue.get_nowait(), loops::QueueShutDown);
  for (int i = 0; i < 3; ++i) run_once();
  EXPECT_FALSE(joiner.done()) << "the item taken but not task_done() must still hold join()";
  queue.task_done();
  for (int i = 0; i < 3; ++i) run_once();
  EXPECT_TRUE(joiner.done());
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, Q_SD_05) {
  // Nothing taken: the immediate shutdown discards every unfinished item.
  Queue<int> untouched;
  untouched.put_nowait(1);
  untouched.shutdown(true);
  EXPECT_THROW(untouched.task_done(), loops::ValueError);

  // One taken: exactly one task_done() is still owed.
  Queue<int> queue;
  for (int i = 0; i < 3; ++i) queue.put_nowait(i);
  queue.get_nowait();
  queue.shutdown(true);
  EXPECT_NO_THROW(queue.task_done());
  EXPECT_THROW(queue.task_done(), loops::ValueError);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

}  // namespace conformance
