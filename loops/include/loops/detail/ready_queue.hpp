// The loop's ready queue: a growable ring of plain function-pointer items.
// A coroutine resume or a done callback costs one 24-byte push and no
// allocation; only user callbacks that return a Handle allocate.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

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
  ReadyQueue() = default;
  ReadyQueue(const ReadyQueue&) = delete;
  ReadyQueue& operator=(const ReadyQueue&) = delete;
  ~ReadyQueue() { discard_all(); }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  void push_back(const ReadyItem& item) {
    if (size_ == capacity_) grow();
    items_[(head_ + size_) & (capacity_ - 1)] = item;
    ++size_;
  }

  ReadyItem pop_front() noexcept {
    ReadyItem item = items_[head_];
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
    return item;
  }

  void discard_all() noexcept {
    while (!empty()) {
      ReadyItem item = pop_front();
      item.fn(ItemAction::discard, item.a, item.b);
    }
  }

 private:
  void grow() {
    std::size_t capacity = capacity_ == 0 ? 64 : capacity_ * 2;
    auto items = std::make_unique_for_overwrite<ReadyItem[]>(capacity);
    for (std::size_t i = 0; i < size_; ++i) items[i] = items_[(head_ + i) & (capacity_ - 1)];
    items_ = std::move(items);
    capacity_ = capacity;
    head_ = 0;
  }

  std::unique_ptr<ReadyItem[]> items_;
  std::size_t capacity_ = 0;  // Always 0 or a power of two.
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace loops::detail
