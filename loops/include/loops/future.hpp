// Future<T>: asyncio.Future. A result that arrives later, awaitable by any
// number of tasks. Done callbacks never run inline: completion schedules them
// with the loop's ready queue, in registration order (SEMANTICS FUT-06/07/08).
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "loops/detail/ready_queue.hpp"
#include "loops/detail/ref_counted.hpp"
#include "loops/errors.hpp"
#include "loops/event_loop.hpp"

namespace loops {

// Identifies done-callback registrations for remove_done_callback. A plain
// function pointer converts to its own key, so registering the same function
// twice and removing it removes both (FUT-09).
struct CallbackKey {
  std::uintptr_t value = 0;
  CallbackKey() = default;
  explicit CallbackKey(std::uintptr_t v) : value(v) {}
  template <class R, class... Args>
  CallbackKey(R (*function)(Args...))  // NOLINT(google-explicit-constructor)
      : value(reinterpret_cast<std::uintptr_t>(function)) {}
  friend bool operator==(CallbackKey, CallbackKey) = default;
};

namespace detail {

class FutureBase;
class TaskRunner;

// One registered done callback. `fn` has the ReadyItem signature: the loop
// runs it with (ctx, future) and it then releases the future reference it was
// given; on discard it frees ctx (the future may then be null).
//
// A registrant that keeps the future alive until its callback has run or been
// discarded (a task suspended on the future, a gather holding its children)
// sets `borrows_future`: its callback is then queued without a reference of
// its own and must not release one. That saves two atomic operations per
// await.
struct DoneCallback {
  void (*fn)(ItemAction action, void* ctx, void* future);
  void* ctx;
  std::uintptr_t key;
  bool borrows_future = false;
};

enum class FutureStatus : std::uint8_t { pending, finished, cancelled };

// The type-independent part of a future's state.
class FutureBase : public RefCounted {
 public:
  explicit FutureBase(EventLoop* loop) : loop_(loop) {}

  EventLoop* loop() const noexcept { return loop_; }
  bool done() const noexcept { return status_ != FutureStatus::pending; }
  bool cancelled() const noexcept { return status_ == FutureStatus::cancelled; }
  bool has_exception() const noexcept { return exception_ != nullptr; }

  // asyncio's Future.exception(): InvalidStateError while pending,
  // CancelledError when cancelled, else the error or null. Marks it retrieved.
  std::exception_ptr exception();
  // Throws what result() would throw (pending, cancelled or failed). The
  // success path is inline: every awaited result goes through it.
  void rethrow_if_not_success() {
    if (status_ == FutureStatus::finished && !exception_) {
      exception_retrieved_ = true;
      return;
    }
    throw_failure();
  }

  // Cancels a pending future; false when it is already done. Tasks and
  // gather futures cancel differently.
  virtual bool cancel(std::string message = {});
  void set_exception(std::exception_ptr error);
  // Marks an error as seen, so destroying the future does not log it.
  void mark_retrieved() noexcept { exception_retrieved_ = true; }
  const std::string& cancel_message() const noexcept;
  // The error a cancelled future raises to its awaiters.
  CancelledError make_cancelled_error() const { return CancelledError(cancel_message()); }

  // The first registration on a pending future, the common case (the one
  // awaiting task), is stored inline; the rest go out of line.
  void add_done_callback(const DoneCallback& callback) {
    if (status_ == FutureStatus::pending && !has_callbacks()) {
      set_first_callback(callback);
      return;
    }
    add_done_callback_slow(callback);
  }
  // Removes every registration with this key; returns how many.
  std::size_t remove_done_callbacks(std::uintptr_t key);
  // A fresh key for a callback that is not a plain function pointer. Odd,
  // so it never equals a (2-aligned) function or object address.
  static std::uintptr_t unique_key() noexcept;

  bool is_task() const noexcept { return is_task_; }
  void bind_loop(EventLoop* loop) noexcept { loop_ = loop; }

 protected:
  ~FutureBase() override;
  void check_settable() const;
  // Sets the final state and schedules the done callbacks.
  void finish(FutureStatus status);
  void set_cancelled_state(std::string message) {
    set_cancel_message(std::move(message));
    finish(FutureStatus::cancelled);
  }
  void set_cancel_message(std::string message);

  // The flags first: they fit in RefCounted's tail padding. The last is the
  // first done callback's `borrows_future`.
  FutureStatus status_ = FutureStatus::pending;
  bool is_task_ = false;
  bool exception_retrieved_ = false;
  bool first_borrows_future_ = false;
  EventLoop* loop_;
  std::exception_ptr exception_;

 private:
  friend class TaskRunner;
  [[noreturn]] void throw_failure();
  void add_done_callback_slow(const DoneCallback& callback);
  void schedule_callbacks();

  // The done callbacks, in registration order. Most futures have exactly one
  // (the task awaiting it): it lives inline.
  bool has_callbacks() const noexcept { return first_callback_.fn != nullptr; }
  void set_first_callback(const DoneCallback& callback) noexcept {
    first_callback_ = {callback.fn, callback.ctx, callback.key};
    first_borrows_future_ = callback.borrows_future;
  }
  template <class F>
  void for_each_callback(F&& f) const {
    if (!has_callbacks()) return;
    f(DoneCallback{first_callback_.fn, first_callback_.ctx, first_callback_.key,
                   first_borrows_future_});
    if (rare_) {
      for (const auto& callback : rare_->more_callbacks) f(callback);
    }
  }
  void clear_callbacks() noexcept;

  struct InlineCallback {
    void (*fn)(ItemAction action, void* ctx, void* future);
    void* ctx;
    std::uintptr_t key;
  };
  InlineCallback first_callback_{};
  // What few futures need, out of line so that the others (a million task
  // frames, say) pay one pointer for it: more done callbacks and a
  // cancellation message.
  struct Rare {
    std::vector<DoneCallback> more_callbacks;
    std::string cancel_message;
  };
  Rare& rare();
  std::unique_ptr<Rare> rare_;
};

// The value slot: std::optional<T>, or nothing for void.
template <class T>
class FutureState : public FutureBase {
 public:
  using FutureBase::FutureBase;
  template <class U>
  void set_result(U&& value) {
    check_settable();
    value_.emplace(std::forward<U>(value));
    finish(FutureStatus::finished);
  }
  const T& result() {
    rethrow_if_not_success();
    return *value_;
  }
  // For a task whose coroutine returned: store without finishing yet.
  template <class U>
  void store_value(U&& value) {
    value_.emplace(std::forward<U>(value));
  }

 protected:
  std::optional<T> value_;
};

template <>
class FutureState<void> : public FutureBase {
 public:
  using FutureBase::FutureBase;
  void set_result() {
    check_settable();
    finish(FutureStatus::finished);
  }
  void result() { rethrow_if_not_success(); }
};

// A user callback stored in a DoneCallback: runs f(Future<T>) once.
template <class T, class F>
struct UserDoneCallback {
  F f;
  static void fn(ItemAction action, void* ctx, void* future) {
    auto* self = static_cast<UserDoneCallback*>(ctx);
    auto* state = static_cast<FutureState<T>*>(future);
    auto release = Ref<FutureState<T>>::adopt(state);  // The reference the loop gave us.
    std::unique_ptr<UserDoneCallback> owned(self);
    if (action == ItemAction::run) owned->f(Future<T>(std::move(release)));
  }
};

// The awaiter behind `co_await future`. Defined with the task machinery in
// loops/task.hpp, because suspending needs the awaiting task.
template <class T>
class FutureAwaiter;

}  // namespace detail

template <class T = void>
class Future {
 public:
  using value_type = T;

  Future() = default;
  explicit Future(detail::Ref<detail::FutureState<T>> state) : state_(std::move(state)) {}

  bool valid() const noexcept { return static_cast<bool>(state_); }
  bool done() const noexcept { return state_->done(); }
  bool cancelled() const noexcept { return state_->cancelled(); }

  // The value. Throws InvalidStateError while pending, CancelledError when
  // cancelled, or the stored error.
  decltype(auto) result() const { return state_->result(); }
  // The stored error or null. Throws InvalidStateError while pending and
  // CancelledError when cancelled.
  std::exception_ptr exception() const { return state_->exception(); }

  // False when already done; else cancels and schedules the done callbacks.
  bool cancel(std::string message = {}) const { return state_->cancel(std::move(message)); }

  template <class U = T>
  requires(!std::is_void_v<U>) void set_result(U&& value) const {
    state_->set_result(std::forward<U>(value));
  }
  void set_result() const requires std::is_void_v<T> { state_->set_result(); }
  void set_exception(std::exception_ptr error) const { state_->set_exception(std::move(error)); }
  template <class E>
  requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>) void set_exception(
      E&& error) const {
    state_->set_exception(std::make_exception_ptr(std::forward<E>(error)));
  }

  // Schedules f(future) with call_soon once the future is done (at once, if it
  // already is). Returns the key to remove it with.
  template <class F>
  CallbackKey add_done_callback(F&& f) const {
    using Callable = std::decay_t<F>;
    std::uintptr_t key = 0;
    if constexpr (std::is_pointer_v<Callable> &&
                  std::is_function_v<std::remove_pointer_t<Callable>>) {
      key = reinterpret_cast<std::uintptr_t>(f);
    } else {
      key = detail::FutureBase::unique_key();
    }
    using Box = detail::UserDoneCallback<T, Callable>;
    state_->add_done_callback({&Box::fn, new Box{std::forward<F>(f)}, key});
    return CallbackKey(key);
  }
  // Removes every registration with this key; returns how many.
  std::size_t remove_done_callback(CallbackKey key) const {
    return state_->remove_done_callbacks(key.value);
  }

  EventLoop& get_loop() const { return *state_->loop(); }

  detail::FutureState<T>* state() const noexcept { return state_.get(); }
  const detail::Ref<detail::FutureState<T>>& state_ref() const noexcept { return state_; }

  detail::FutureAwaiter<T> operator co_await() const noexcept;

  friend bool operator==(const Future& a, const Future& b) noexcept {
    return a.state_.get() == b.state_.get();
  }

 private:
  detail::Ref<detail::FutureState<T>> state_;
};

template <class T>
Future<T> EventLoop::create_future() {
  check_closed();
  return Future<T>(detail::Ref<detail::FutureState<T>>::adopt(new detail::FutureState<T>(this)));
}

}  // namespace loops
