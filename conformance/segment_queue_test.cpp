// The segmented FIFO under the loop's ready queue and timer FIFO: order across
// segment boundaries, in-place erase_if, and segments passing between two
// queues through their shared pool.
#include "loops/detail/segment_queue.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

namespace {

using loops::detail::SegmentPool;
using loops::detail::SegmentQueue;

struct Item {
  std::size_t value;
  std::size_t pad[2];  // The size of a ready item.
};

// More than a few segments' worth of items.
constexpr std::size_t kMany = 5 * loops::detail::kSegmentBytes / sizeof(Item) + 7;

void push_range(SegmentQueue<Item>& queue, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i) queue.push_back({i, {}});
}

TEST(SegmentQueue, KeepsFifoOrderAcrossSegments) {
  SegmentPool pool;
  SegmentQueue<Item> queue(pool);
  push_range(queue, 0, kMany);
  EXPECT_EQ(queue.size(), kMany);
  EXPECT_EQ(queue.front().value, 0U);
  EXPECT_EQ(queue.back().value, kMany - 1);
  for (std::size_t i = 0; i < kMany; ++i) {
    ASSERT_EQ(queue.pop_front().value, i);
    // Interleaved pushes keep their place behind the older items.
    if (i % 3 == 0) queue.push_back({kMany + i, {}});
  }
  std::size_t expected = kMany;
  while (!queue.empty()) {
    ASSERT_EQ(queue.pop_front().value, expected);
    expected += 3;
  }
}

TEST(SegmentQueue, EmptiedQueueStartsOver) {
  SegmentPool pool;
  SegmentQueue<Item> queue(pool);
  for (std::size_t round = 0; round < 3; ++round) {
    push_range(queue, 0, kMany);
    for (std::size_t i = 0; i < kMany; ++i) ASSERT_EQ(queue.pop_front().value, i);
    EXPECT_TRUE(queue.empty());
  }
}

TEST(SegmentQueue, EraseIfCompactsInOrder) {
  SegmentPool pool;
  SegmentQueue<Item> queue(pool);
  push_range(queue, 0, kMany);
  for (std::size_t i = 0; i < 10; ++i) queue.pop_front();  // A head inside a segment.
  std::vector<std::size_t> seen;
  queue.erase_if([&](const Item& item) {
    seen.push_back(item.value);
    return item.value % 4 != 0;
  });
  ASSERT_EQ(seen.size(), kMany - 10);
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i + 10);
  std::vector<std::size_t> kept;
  for (const Item& item : queue.take_all()) kept.push_back(item.value);
  std::vector<std::size_t> expected;
  for (std::size_t i = 12; i < kMany; i += 4) expected.push_back(i);
  EXPECT_EQ(kept, expected);
  EXPECT_TRUE(queue.empty());
  // Still usable after compaction and draining.
  push_range(queue, 0, kMany);
  EXPECT_EQ(queue.back().value, kMany - 1);
  queue.erase_if([](const Item&) { return true; });
  EXPECT_TRUE(queue.empty());
  push_range(queue, 0, 3);
  EXPECT_EQ(queue.pop_front().value, 0U);
  EXPECT_EQ(queue.size(), 2U);
}

TEST(SegmentQueue, QueuesShareOnePool) {
  SegmentPool pool;
  SegmentQueue<Item> steps(pool);
  SegmentQueue<Item> timers(pool);
  push_range(steps, 0, kMany);
  // As steps drain, the other queue fills from the segments they give back.
  while (!steps.empty()) {
    const Item item = steps.pop_front();
    timers.push_back(item);
  }
  for (std::size_t i = 0; i < kMany; ++i) ASSERT_EQ(timers.pop_front().value, i);
}

}  // namespace
