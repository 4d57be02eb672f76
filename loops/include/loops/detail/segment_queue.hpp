// A FIFO of plain items in fixed-size segments, taken from and given back to
// a SegmentPool that several queues of one loop share. The loop's ready queue
// and its timer FIFO share one: when a million first steps drain from the
// ready queue and each queues its timer, the timers take the segments that
// the steps gave back, so the peak holds a million items, not two million.
// A pool keeps what it is given until it is destroyed: a loop that queued a
// million items once allocates nothing when it does so again.
#pragma once

#include <cstddef>
#include <iterator>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace loops::detail {

inline constexpr std::size_t kSegmentBytes = 16 * 1024;

// Free segments of kSegmentBytes. One thread's (its loop's) only. Sanitizer
// builds keep none, so that AddressSanitizer sees every use after free.
class SegmentPool {
 public:
  SegmentPool() = default;
  SegmentPool(const SegmentPool&) = delete;
  SegmentPool& operator=(const SegmentPool&) = delete;
  ~SegmentPool() {
    while (free_ != nullptr) ::operator delete(std::exchange(free_, free_->next));
  }

  void* take() {
    if (free_ == nullptr) return ::operator new(kSegmentBytes);
    return std::exchange(free_, free_->next);
  }
  void give(void* segment) noexcept {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    ::operator delete(segment);
#else
    free_ = new (segment) FreeSegment{free_};
#endif
  }

 private:
  struct FreeSegment {
    FreeSegment* next;
  };
  FreeSegment* free_ = nullptr;
};

template <class T>
class SegmentQueue {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_default_constructible_v<T>);

 public:
  explicit SegmentQueue(SegmentPool& pool) noexcept : pool_(&pool) {}
  SegmentQueue(const SegmentQueue&) = delete;
  SegmentQueue& operator=(const SegmentQueue&) = delete;
  ~SegmentQueue() { give_back_from(head_segment_); }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  // The first and the last item; the queue must not be empty.
  const T& front() const noexcept { return *head_; }
  T& back() noexcept { return *(tail_ - 1); }

  void push_back(const T& item) {
    if (tail_ == tail_end_) [[unlikely]]
      add_segment();
    *tail_++ = item;
    ++size_;
  }

  // The queue must not be empty.
  T pop_front() noexcept {
    const T item = *head_++;
    --size_;
    if (head_ == head_end_) [[unlikely]]
      next_head_segment();
    return item;
  }

  // Removes the items for which pred is true (called once each, in order),
  // keeping the others' order.
  template <class Pred>
  void erase_if(Pred&& pred) {
    if (empty()) return;
    Segment* write_segment = head_segment_;
    T* write = head_;
    std::size_t kept = 0;
    for (Segment* segment = head_segment_; segment != nullptr; segment = segment->next) {
      T* const end = segment == tail_segment_ ? tail_ : std::end(segment->items);
      for (T* read = segment == head_segment_ ? head_ : segment->items; read != end; ++read) {
        if (pred(*read)) continue;
        if (write == std::end(write_segment->items)) {
          write_segment = write_segment->next;
          write = write_segment->items;
        }
        *write++ = *read;
        ++kept;
      }
    }
    give_back_from(std::exchange(write_segment->next, nullptr));
    tail_segment_ = write_segment;
    tail_ = write;
    tail_end_ = std::end(write_segment->items);
    size_ = kept;
  }

  // Hands the items to the caller, in order; the queue is empty afterwards.
  std::vector<T> take_all() {
    std::vector<T> items;
    items.reserve(size_);
    while (!empty()) items.push_back(pop_front());
    return items;
  }

 private:
  struct Segment {
    Segment* next;
    T items[(kSegmentBytes - sizeof(Segment*)) / sizeof(T)];
  };
  static_assert(sizeof(Segment) <= kSegmentBytes);

  void add_segment() {
    auto* segment = new (pool_->take()) Segment;
    segment->next = nullptr;
    if (tail_segment_ == nullptr) {
      head_segment_ = segment;
      head_ = segment->items;
      head_end_ = std::end(segment->items);
    } else {
      tail_segment_->next = segment;
    }
    tail_segment_ = segment;
    tail_ = segment->items;
    tail_end_ = std::end(segment->items);
  }

  void next_head_segment() noexcept {
    Segment* const done = head_segment_;
    if (done == tail_segment_) {  // Now empty: start the segment over.
      head_ = tail_ = done->items;
      return;
    }
    head_segment_ = done->next;
    head_ = head_segment_->items;
    head_end_ = std::end(head_segment_->items);
    pool_->give(done);
  }

  void give_back_from(Segment* segment) noexcept {
    while (segment != nullptr) pool_->give(std::exchange(segment, segment->next));
  }

  SegmentPool* pool_;
  Segment* head_segment_ = nullptr;
  Segment* tail_segment_ = nullptr;
  T* head_ = nullptr;  // The next item to pop.
  T* head_end_ = nullptr;
  T* tail_ = nullptr;  // Where the next item goes.
  T* tail_end_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace loops::detail
