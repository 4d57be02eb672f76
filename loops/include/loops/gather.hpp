// gather(): asyncio.gather. Runs children concurrently and returns one future
// of all their results, in argument order (GATHER-01).
//
//   auto [a, b] = co_await gather(fetch(1), fetch(2));        // tuple
//   std::vector<int> all = co_await gather(std::move(tasks));  // range
//   auto outcomes = co_await gather(return_exceptions, x(), y());
//
// Without return_exceptions the first error (a cancelled child counts as a
// CancelledError) fails the gather at once; siblings keep running (GATHER-02,
// -05). Cancelling the gather cancels the children that are still running; it
// then fails with CancelledError rather than being marked cancelled (GATHER-04).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "loops/event_loop.hpp"
#include "loops/future.hpp"
#include "loops/run.hpp"
#include "loops/task.hpp"

namespace loops {

// A child's result or its error: gather's element type with return_exceptions.
template <class T>
class Outcome {
 public:
  using Value = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
  explicit Outcome(Value value) : value_(std::move(value)) {}
  explicit Outcome(std::exception_ptr error) : error_(std::move(error)) {}
  bool ok() const noexcept { return !error_; }
  const std::exception_ptr& error() const noexcept { return error_; }
  // The value, or the child's error rethrown.
  const Value& get() const {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }
  // True when the child was cancelled (GATHER-06).
  bool cancelled() const {
    if (!error_) return false;
    try {
      std::rethrow_exception(error_);
    } catch (const CancelledError&) {
      return true;
    } catch (...) {
      return false;
    }
  }

 private:
  std::optional<Value> value_;
  std::exception_ptr error_;
};

// Tag: gather(return_exceptions, ...) puts errors in the results.
struct ReturnExceptions {};
inline constexpr ReturnExceptions return_exceptions{};

namespace detail {

template <class T>
using GatherValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// Only called for a child that succeeded: a failure or cancellation ends the
// gather first, or becomes an Outcome's error. So a void child has nothing
// to check.
template <class T>
GatherValue<T> child_value(FutureBase& child) {
  if constexpr (std::is_void_v<T>) {
    return {};
  } else {
    return static_cast<FutureState<T>&>(child).result();
  }
}

template <class T>
Outcome<T> child_outcome(FutureBase& child) {
  if (child.cancelled()) {
    return Outcome<T>(std::make_exception_ptr(child.make_cancelled_error()));
  }
  if (std::exception_ptr error = child.exception()) return Outcome<T>(error);
  return Outcome<T>(child_value<T>(child));
}

// The gather future: done when every child is (or at the first error).
template <class Result>
class GatherState final : public FutureState<Result> {
 public:
  using Collect = Result (*)(std::vector<Ref<FutureBase>>&);

  GatherState(EventLoop* loop, std::vector<Ref<FutureBase>> children, bool keep_errors,
              Collect collect)
      : FutureState<Result>(loop),
        children_(std::move(children)),
        keep_errors_(keep_errors),
        collect_(collect) {}

  void start() {
    if (children_.empty()) {
      this->set_result(collect_(children_));  // gather() of nothing is done at once (GATHER-07).
      return;
    }
    // The children's callbacks share one reference to the gather, dropped by
    // the last of them: a plain counter instead of an atomic per child. One
    // key serves them all: nothing removes these callbacks by key.
    this->add_ref();
    callbacks_pending_ = children_.size();
    const std::uintptr_t key = FutureBase::unique_key();
    // children_ holds every child until the last callback has run.
    for (auto& child : children_) {
      child->add_done_callback({&child_done, this, key, /*borrows_future=*/true});
    }
  }

  bool cancel(std::string message) override {
    if (this->done()) return false;
    bool any = false;
    for (auto& child : children_) any = child->cancel(message) || any;
    if (any) cancel_requested_ = true;  // The result becomes CancelledError.
    return any;
  }

 private:
  static void child_done(ItemAction action, void* ctx, void* future) {
    auto* self = static_cast<GatherState*>(ctx);
    if (action == ItemAction::run) self->on_child_done(*static_cast<FutureBase*>(future));
    if (--self->callbacks_pending_ == 0) self->release();
  }

  void on_child_done(FutureBase& child) {
    ++finished_;
    if (this->done()) {
      if (!child.cancelled()) child.mark_retrieved();
      return;
    }
    if (!keep_errors_) {
      if (child.cancelled()) {
        this->set_exception(std::make_exception_ptr(child.make_cancelled_error()));
        return;
      }
      if (child.has_exception()) {
        this->set_exception(child.exception());
        return;
      }
    }
    if (finished_ < children_.size()) return;
    if (cancel_requested_) {
      // As CPython: the last child's cancellation, so cancel(msg) keeps its
      // message through a gather with return_exceptions (GATHER-09, TASK-14).
      this->set_exception(std::make_exception_ptr(children_.back()->make_cancelled_error()));
    } else {
      this->set_result(collect_(children_));
    }
  }

  std::vector<Ref<FutureBase>> children_;
  std::size_t finished_ = 0;
  std::size_t callbacks_pending_ = 0;
  bool keep_errors_;
  bool cancel_requested_ = false;
  Collect collect_;
};

// Where lazy children are scheduled: the given loop, else a child's, else
// the running loop. Children of different loops are refused (GATHER-10).
class LoopPicker {
 public:
  explicit LoopPicker(EventLoop* preferred) : loop_(preferred) {}
  template <class A>
  void note(const A& child) {
    if constexpr (std::is_same_v<A, Task<typename A::value_type>>) {
      if (!child.scheduled()) return;
    }
    EventLoop* owner = &child.get_loop();
    if (loop_ == nullptr) loop_ = owner;
    if (owner != loop_) throw ValueError("futures are tied to different event loops");
  }
  EventLoop& loop() {
    if (loop_ == nullptr) loop_ = &get_running_loop();
    return *loop_;
  }

 private:
  EventLoop* loop_;
};

// ensure_future's work, taking the one reference the gather keeps (no
// temporary Future, so one atomic increment per child instead of three).
template <class A>
Ref<FutureBase> to_child(EventLoop& loop, const A& awaitable) {
  if constexpr (std::is_same_v<A, Task<typename A::value_type>>) {
    if (!awaitable.scheduled()) loop.create_task(awaitable);
    return Ref<FutureBase>::share(awaitable.promise());
  } else {
    return Ref<FutureBase>::share(awaitable.state());
  }
}

template <class Result, class Collect>
Future<Result> start_gather(EventLoop& loop, std::vector<Ref<FutureBase>> children,
                            bool keep_errors, Collect collect) {
  core_of(loop).check_closed();
  auto* state = new GatherState<Result>(&loop, std::move(children), keep_errors, collect);
  auto future = Future<Result>(Ref<FutureState<Result>>::adopt(state));
  state->start();
  return future;
}

template <bool KeepErrors, class... A>
auto gather_tuple(EventLoop* preferred, const A&... children) {
  using Result = std::conditional_t<KeepErrors, std::tuple<Outcome<typename A::value_type>...>,
                                    std::tuple<GatherValue<typename A::value_type>...>>;
  LoopPicker picker(preferred);
  (picker.note(children), ...);
  EventLoop& loop = picker.loop();
  std::vector<Ref<FutureBase>> list;
  (list.push_back(to_child(loop, children)), ...);
  auto collect = [](std::vector<Ref<FutureBase>>& done) -> Result {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      if constexpr (KeepErrors) {
        return Result(child_outcome<typename A::value_type>(*done[I])...);
      } else {
        return Result(child_value<typename A::value_type>(*done[I])...);
      }
    }
    (std::index_sequence_for<A...>{});
  };
  return start_gather<Result>(loop, std::move(list), KeepErrors, +collect);
}

template <bool KeepErrors, class A>
auto gather_range(EventLoop* preferred, const std::vector<A>& children) {
  using T = typename A::value_type;
  using Element = std::conditional_t<KeepErrors, Outcome<T>, GatherValue<T>>;
  using Result = std::vector<Element>;
  LoopPicker picker(preferred);
  for (const auto& child : children) picker.note(child);
  EventLoop& loop = picker.loop();
  std::vector<Ref<FutureBase>> list;
  list.reserve(children.size());
  for (const auto& child : children) list.push_back(to_child(loop, child));
  auto collect = [](std::vector<Ref<FutureBase>>& done) -> Result {
    Result results;
    results.reserve(done.size());
    for (auto& child : done) {
      if constexpr (KeepErrors) {
        results.push_back(child_outcome<T>(*child));
      } else {
        results.push_back(child_value<T>(*child));
      }
    }
    return results;
  };
  return start_gather<Result>(loop, std::move(list), KeepErrors, +collect);
}

}  // namespace detail

// Variadic gather: Future<std::tuple<...>> (void children give std::monostate).
template <detail::Awaitable... A>
auto gather(const A&... children) {
  return detail::gather_tuple<false>(nullptr, children...);
}
template <detail::Awaitable... A>
auto gather(EventLoop& loop, const A&... children) {
  return detail::gather_tuple<false>(&loop, children...);
}
template <detail::Awaitable... A>
auto gather(ReturnExceptions, const A&... children) {
  return detail::gather_tuple<true>(nullptr, children...);
}
template <detail::Awaitable... A>
auto gather(EventLoop& loop, ReturnExceptions, const A&... children) {
  return detail::gather_tuple<true>(&loop, children...);
}

// Range gather: Future<std::vector<...>>.
template <detail::Awaitable A>
auto gather(const std::vector<A>& children) {
  return detail::gather_range<false>(nullptr, children);
}
template <detail::Awaitable A>
auto gather(EventLoop& loop, const std::vector<A>& children) {
  return detail::gather_range<false>(&loop, children);
}
template <detail::Awaitable A>
auto gather(ReturnExceptions, const std::vector<A>& children) {
  return detail::gather_range<true>(nullptr, children);
}
template <detail::Awaitable A>
auto gather(EventLoop& loop, ReturnExceptions, const std::vector<A>& children) {
  return detail::gather_range<true>(&loop, children);
}

}  // namespace loops
