// wait, wait_for and as_completed: asyncio's three ways to wait with a timeout.
//
// wait() never raises a child's error and never cancels anything, even on
// timeout (WAIT-04); wait_for() cancels its awaitable on timeout and waits
// until the cancellation has finished before raising TimeoutError (WFOR-02).
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "loops/event_loop.hpp"
#include "loops/future.hpp"
#include "loops/queue.hpp"
#include "loops/run.hpp"
#include "loops/task.hpp"

namespace loops {

enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };

template <class T>
struct WaitResult {
  std::vector<Future<T>> done;
  std::vector<Future<T>> pending;
};

// A timeout in any chrono unit; std::nullopt waits forever.
using Timeout = std::optional<std::chrono::duration<double>>;

namespace detail {

// Completes `waiter` unless it already is: asyncio's _release_waiter.
inline void release(const Future<void>& waiter) {
  if (!waiter.done()) waiter.set_result();
}

// The futures that wait() and as_completed() accept: scheduled ones only. A
// bare coroutine is a TypeError since Python 3.11 (WAIT-06).
template <class A>
Future<typename A::value_type> as_scheduled_future(const A& awaitable) {
  if constexpr (std::is_same_v<A, Task<typename A::value_type>>) {
    if (!awaitable.scheduled()) {
      throw TypeError("Passing coroutines is forbidden, use tasks explicitly.");
    }
    return awaitable.as_future();
  } else {
    return awaitable;
  }
}

// Shared by wait()'s done callbacks, which may run after wait() returned.
struct WaitCounter {
  Future<void> waiter;
  std::size_t remaining;
  ReturnWhen return_when;
  TimerHandle timeout;
};

// Cancels `future` and waits until it is really done (asyncio's _cancel_and_wait).
template <class T>
Task<void> cancel_and_wait(Future<T> future) {
  auto waiter = get_running_loop().create_future<void>();
  auto key = future.add_done_callback([waiter](const Future<T>&) { release(waiter); });
  future.cancel();
  std::exception_ptr error;
  try {
    co_await waiter;
  } catch (...) {
    error = std::current_exception();
  }
  future.remove_done_callback(key);
  if (error) std::rethrow_exception(error);
}

}  // namespace detail

// Waits for the futures (scheduled tasks or futures) and returns
// {done, pending}. Throws ValueError for an empty list (WAIT-06).
template <class A>
Task<WaitResult<typename A::value_type>> wait(std::vector<A> awaitables,
                                              Timeout timeout = std::nullopt,
                                              ReturnWhen return_when = ReturnWhen::ALL_COMPLETED) {
  using T = typename A::value_type;
  if (awaitables.empty()) throw ValueError("Set of Tasks/Futures is empty.");
  if (return_when != ReturnWhen::FIRST_COMPLETED && return_when != ReturnWhen::FIRST_EXCEPTION &&
      return_when != ReturnWhen::ALL_COMPLETED) {
    throw ValueError("Invalid return_when value");
  }
  std::vector<Future<T>> futures;
  futures.reserve(awaitables.size());
  for (const auto& awaitable : awaitables)
    futures.push_back(detail::as_scheduled_future(awaitable));

  EventLoop& loop = get_running_loop();
  auto counter = std::make_shared<detail::WaitCounter>(
      detail::WaitCounter{loop.create_future<void>(), futures.size(), return_when, {}});
  if (timeout) {
    counter->timeout =
        loop.call_later(*timeout, [waiter = counter->waiter] { detail::release(waiter); });
  }
  std::vector<CallbackKey> keys;
  keys.reserve(futures.size());
  for (const auto& future : futures) {
    keys.push_back(future.add_done_callback([counter](const Future<T>& f) {
      --counter->remaining;
      const bool failed = !f.cancelled() && f.exception() != nullptr;
      if (counter->remaining == 0 || counter->return_when == ReturnWhen::FIRST_COMPLETED ||
          (counter->return_when == ReturnWhen::FIRST_EXCEPTION && failed)) {
        counter->timeout.cancel();
        detail::release(counter->waiter);
      }
    }));
  }
  std::exception_ptr error;
  try {
    co_await counter->waiter;
  } catch (...) {
    error = std::current_exception();
  }
  counter->timeout.cancel();
  for (std::size_t i = 0; i < futures.size(); ++i) futures[i].remove_done_callback(keys[i]);
  if (error) std::rethrow_exception(error);

  WaitResult<T> result;
  for (auto& future : futures)
    (future.done() ? result.done : result.pending).push_back(std::move(future));
  co_return result;
}

// Waits for one awaitable with a timeout: its result, or TimeoutError after
// cancelling it. If the caller is cancelled, the awaitable is too (WFOR-03).
template <class A>
Task<typename A::value_type> wait_for(A awaitable, Timeout timeout) {
  using T = typename A::value_type;
  EventLoop& loop = get_running_loop();
  Future<T> future = detail::ensure_future(loop, awaitable);
  if (!timeout) co_return co_await future;

  if (timeout->count() <= 0) {
    if (!future.done()) {
      co_await detail::cancel_and_wait(future);
      if (future.cancelled()) throw TimeoutError();
    }
    co_return future.result();
  }

  auto waiter = loop.create_future<void>();
  TimerHandle timer = loop.call_later(*timeout, [waiter] { detail::release(waiter); });
  auto key = future.add_done_callback([waiter](const Future<T>&) { detail::release(waiter); });

  std::exception_ptr caller_cancelled;
  try {
    co_await waiter;
  } catch (const CancelledError&) {
    caller_cancelled = std::current_exception();
  }
  timer.cancel();
  if (caller_cancelled) {
    // The caller's cancellation wins even over a result that arrived in the
    // same iteration: wait_for never swallows it (3.12+, GH-86296).
    if (!future.done()) {
      future.remove_done_callback(key);
      co_await detail::cancel_and_wait(future);
    }
    std::rethrow_exception(caller_cancelled);
  }
  // Finished in the same iteration as the timeout: the result wins (WFOR-05).
  if (future.done()) co_return future.result();
  future.remove_done_callback(key);
  co_await detail::cancel_and_wait(future);
  // A child that suppressed its cancellation gives its value (3.12+).
  if (future.cancelled()) throw TimeoutError();
  co_return future.result();
}

// Coroutines that give the results in completion order: awaiting the i-th
// gives the i-th result to complete (ASC-01). On timeout, the ones still
// outstanding raise TimeoutError; nothing is cancelled (ASC-02).
template <class A>
std::vector<Task<typename A::value_type>> as_completed(const std::vector<A>& awaitables,
                                                       Timeout timeout = std::nullopt) {
  using T = typename A::value_type;
  struct State {
    Queue<std::optional<Future<T>>> done;
    std::vector<std::pair<Future<T>, CallbackKey>> todo;
    TimerHandle timeout;
  };
  EventLoop& loop = get_running_loop();
  auto state = std::make_shared<State>();
  for (const auto& awaitable : awaitables) {
    Future<T> future = detail::as_scheduled_future(awaitable);
    auto key = future.add_done_callback([weak = std::weak_ptr<State>(state)](const Future<T>& f) {
      auto s = weak.lock();
      if (!s) return;
      std::erase_if(s->todo, [&](const auto& entry) { return entry.first == f; });
      s->done.put_nowait(f);
      if (s->todo.empty()) s->timeout.cancel();
    });
    state->todo.emplace_back(future, key);
  }
  if (timeout && !state->todo.empty()) {
    state->timeout = loop.call_later(*timeout, [weak = std::weak_ptr<State>(state)] {
      auto s = weak.lock();
      if (!s) return;
      for (auto& [future, key] : s->todo) {
        future.remove_done_callback(key);
        s->done.put_nowait(std::nullopt);
      }
      s->todo.clear();
    });
  }
  std::vector<Task<T>> next;
  next.reserve(awaitables.size());
  for (std::size_t i = 0; i < awaitables.size(); ++i) {
    next.push_back([](std::shared_ptr<State> s) -> Task<T> {
      std::optional<Future<T>> finished = co_await s->done.get();
      if (!finished) throw TimeoutError();
      co_return finished->result();
    }(state));
  }
  return next;
}

}  // namespace loops
