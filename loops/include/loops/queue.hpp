// Queue<T>: asyncio.Queue, including join/task_done and 3.13's shutdown().
//
// put() and get() complete without suspending when they can (as asyncio's do:
// no loop iteration when the queue has room or items); otherwise they wait on a
// future in a FIFO of waiters. A getter cancelled after it was woken
// passes its wake-up on, so no item is lost.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "loops/event_loop.hpp"
#include "loops/future.hpp"
#include "loops/task.hpp"

namespace loops {

namespace detail {

// A FIFO in one power-of-two array: push, pop and size are a few
// instructions, where std::deque's size() alone walks its block map. Grows by
// doubling and keeps its largest size, as a bounded queue's buffer should.
template <class T>
class RingBuffer {
 public:
  RingBuffer() = default;
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;
  ~RingBuffer() {
    clear();
    std::allocator<T>().deallocate(slots_, capacity_);
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T& front() noexcept { return slots_[head_]; }

  void push_back(T&& value) {
    if (size_ == capacity_) grow();
    std::construct_at(slots_ + ((head_ + size_) & (capacity_ - 1)), std::move(value));
    ++size_;
  }
  void push_back(const T& value) { push_back(T(value)); }
  void pop_front() noexcept {
    std::destroy_at(slots_ + head_);
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
  }
  void clear() noexcept {
    while (!empty()) pop_front();
  }
  // Removes the elements equal to `value`, keeping the others' order.
  void erase(const T& value) {
    const std::size_t count = size_;
    for (std::size_t i = 0; i < count; ++i) {
      T kept = std::move(front());
      pop_front();  // First, so that push_back never needs to grow.
      if (!(kept == value)) push_back(std::move(kept));
    }
  }

 private:
  void grow() {
    const std::size_t capacity = capacity_ == 0 ? 8 : capacity_ * 2;
    T* slots = std::allocator<T>().allocate(capacity);
    std::size_t moved = 0;
    try {
      for (; moved < size_; ++moved) {
        std::construct_at(slots + moved,
                          std::move_if_noexcept(slots_[(head_ + moved) & (capacity_ - 1)]));
      }
    } catch (...) {
      std::destroy_n(slots, moved);
      std::allocator<T>().deallocate(slots, capacity);
      throw;
    }
    const std::size_t size = size_;
    clear();
    std::allocator<T>().deallocate(slots_, capacity_);
    slots_ = slots;
    capacity_ = capacity;
    head_ = 0;
    size_ = size;
  }

  T* slots_ = nullptr;
  std::size_t capacity_ = 0;  // Zero or a power of two.
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace detail

template <class T>
class Queue {
 public:
  // maxsize <= 0 means unbounded.
  explicit Queue(long maxsize = 0) : maxsize_(maxsize) {}
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  std::size_t qsize() const noexcept { return items_.size(); }
  long maxsize() const noexcept { return maxsize_; }
  bool empty() const noexcept { return items_.empty(); }
  bool full() const noexcept {
    return maxsize_ > 0 && items_.size() >= static_cast<std::size_t>(maxsize_);
  }
  bool is_shut_down() const noexcept { return shut_down_; }

  // Throws QueueShutDown after shutdown(), QueueFull when full.
  void put_nowait(T item) {
    if (full() && !shut_down_) throw QueueFull();
    enqueue(std::move(item));
  }

  // Throws QueueEmpty when empty, or QueueShutDown when shut down and empty.
  T get_nowait() {
    if (empty()) {
      if (shut_down_) throw QueueShutDown();
      throw QueueEmpty();
    }
    return dequeue();
  }

  // Awaitable: waits while the queue is full (backpressure, Q-02).
  auto put(T item) { return PutOp{this, std::move(item)}; }
  // Awaitable: waits while the queue is empty; returns the oldest item.
  auto get() { return GetOp{this}; }

  // Marks one item as processed. Throws ValueError when called more times
  // than items were put.
  void task_done() {
    if (unfinished_ == 0) throw ValueError("task_done() called too many times");
    if (--unfinished_ == 0) release_joiners();
  }

  // Waits until every item put has been marked task_done.
  Task<void> join() {
    if (unfinished_ == 0) co_return;
    auto joiner = get_running_loop().create_future<void>();
    joiners_.push_back(joiner);
    co_await joiner;
  }

  // Python 3.13's shutdown: puts fail from now on; gets fail once the queue is
  // empty. immediate=true also discards the items (and their unfinished
  // count), so join() waits only for items already taken (Q-SD-01..05).
  void shutdown(bool immediate = false) {
    shut_down_ = true;
    if (immediate) {
      while (!items_.empty()) {
        items_.pop_front();
        if (unfinished_ > 0) --unfinished_;
      }
      if (unfinished_ == 0) release_joiners();
    }
    // Every waiter re-checks and raises QueueShutDown where it must.
    wake_all(getters_);
    wake_all(putters_);
  }

 private:
  using Waiters = detail::RingBuffer<Future<void>>;

  // put_nowait once there is room. Also put()'s fast path, which stays
  // inline this way.
  void enqueue(T&& item) {
    if (shut_down_) throw QueueShutDown();
    items_.push_back(std::move(item));
    ++unfinished_;
    if (!getters_.empty()) wake_next(getters_);
  }
  // get_nowait once there is an item; get()'s fast path, likewise.
  T dequeue() {
    T item = std::move(items_.front());
    items_.pop_front();
    if (!putters_.empty()) wake_next(putters_);
    return item;
  }

  static void wake_next(Waiters& waiters) {
    while (!waiters.empty()) {
      Future<void> waiter = std::move(waiters.front());
      waiters.pop_front();
      if (!waiter.done()) {
        waiter.set_result();
        return;
      }
    }
  }
  static void wake_all(Waiters& waiters) {
    while (!waiters.empty()) wake_next(waiters);
  }
  void release_joiners() {
    for (auto& joiner : joiners_) {
      if (!joiner.done()) joiner.set_result();
    }
    joiners_.clear();
  }

  // `co_await WaitTurn{...}`: asyncio's `await getter` on a fresh future in
  // `waiters`, without a coroutine frame of its own. On error (cancellation),
  // hands the wake-up to the next waiter if this one had already been woken.
  struct WaitTurn {
    Queue* queue;
    Waiters* waiters;
    bool (Queue::*still_blocked)() const;
    Future<void> waiter{};
    detail::FutureAwaiter<void> awaiting{nullptr};

    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      waiter = get_running_loop().create_future<void>();
      waiters->push_back(waiter);
      awaiting = detail::FutureAwaiter<void>(waiter.state());
      try {
        awaiting.await_suspend(h);
      } catch (...) {
        waiters->erase(waiter);
        throw;
      }
    }
    void await_resume() {
      try {
        awaiting.await_resume();
      } catch (...) {
        waiter.cancel();
        waiters->erase(waiter);
        if (!(queue->*still_blocked)() && !waiter.cancelled()) wake_next(*waiters);
        throw;
      }
    }
  };

  Task<T> get_slow() {
    while (empty()) {
      if (shut_down_) throw QueueShutDown();
      co_await WaitTurn{this, &getters_, &Queue::empty};
    }
    co_return dequeue();
  }

  Task<void> put_slow(T item) {
    while (full()) {
      if (shut_down_) throw QueueShutDown();
      co_await WaitTurn{this, &putters_, &Queue::full};
    }
    enqueue(std::move(item));
  }

  // Awaiters with a fast path: no coroutine frame when no wait is needed.
  template <class R>
  struct SlowPath {
    std::optional<Task<R>> slow;
    std::optional<detail::TaskAwaiter<R>> awaiter;
    template <class P>
    std::coroutine_handle<> suspend(Task<R> task, std::coroutine_handle<P> h) {
      slow = std::move(task);
      awaiter.emplace(slow->promise());
      return awaiter->await_suspend(h);
    }
  };

  struct GetOp : SlowPath<T> {
    Queue* queue;
    explicit GetOp(Queue* q) : queue(q) {}
    bool await_ready() const noexcept { return !queue->empty(); }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
      return this->suspend(queue->get_slow(), h);
    }
    T await_resume() {
      if (this->awaiter) return this->awaiter->await_resume();
      return queue->dequeue();  // await_ready saw an item.
    }
  };

  struct PutOp : SlowPath<void> {
    Queue* queue;
    T item;
    PutOp(Queue* q, T i) : queue(q), item(std::move(i)) {}
    bool await_ready() const noexcept { return !queue->full(); }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
      return this->suspend(queue->put_slow(std::move(item)), h);
    }
    void await_resume() {
      if (this->awaiter) {
        this->awaiter->await_resume();
      } else {
        queue->enqueue(std::move(item));  // await_ready saw room.
      }
    }
  };

  detail::RingBuffer<T> items_;
  long maxsize_;
  std::size_t unfinished_ = 0;
  bool shut_down_ = false;
  Waiters getters_;
  Waiters putters_;
  std::vector<Future<void>> joiners_;
};

}  // namespace loops
