// The loop's ready queue: a FIFO of plain function-pointer items, in segments
// shared with the loop's timer FIFO. A coroutine resume or a done callback
// costs one 24-byte push and no allocation; only user callbacks that return a
// Handle allocate.
#pragma once

#include <cstddef>

#include "loops/detail/segment_queue.hpp"

namespace loops::detail {

enum class ItemAction { run, discard };

struct ReadyItem {
  // Runs the item (ItemAction::run), or releases what it owns without running
  // (ItemAction::discard, when the loop closes). Must not throw on discard.
  void (*fn)(ItemAction action, void* a, void* b);
  void* a;
  void* b;
};

class ReadyQueue {
 public:
  explicit ReadyQueue(SegmentPool& pool) noexcept : items_(pool) {}
  ReadyQueue(const ReadyQueue&) = delete;
  ReadyQueue& operator=(const ReadyQueue&) = delete;
  ~ReadyQueue() { discard_all(); }

  bool empty() const noexcept { return items_.empty(); }
  std::size_t size() const noexcept { return items_.size(); }
  void push_back(const ReadyItem& item) { items_.push_back(item); }
  ReadyItem pop_front() noexcept { return items_.pop_front(); }

  void discard_all() noexcept {
    while (!empty()) {
      ReadyItem item = pop_front();
      item.fn(ItemAction::discard, item.a, item.b);
    }
  }

 private:
  SegmentQueue<ReadyItem> items_;
};

}  // namespace loops::detail
