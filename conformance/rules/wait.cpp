// SEMANTICS.md area 7: wait, wait_for and as_completed (WAIT-*, WFOR-*, ASC-*).
#include <algorithm>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness.hpp"

namespace conformance {
namespace {

using loops::Future;
using loops::Nanos;
using loops::ReturnWhen;
using loops::Task;
using Ms = std::chrono::milliseconds;

constexpr Nanos ns(std::chrono::nanoseconds d) {
  return d.count();
}

template <class T>
Task<T> value_after(Ms delay, T value) {
  co_await loops::sleep(delay);
  co_return value;
}

Task<int> key_error_after(Ms delay) {
  co_await loops::sleep(delay);
  throw std::out_of_range("key");  // C++'s KeyError.
}

Task<void> yield_times(int n) {
  for (int i = 0; i < n; ++i) co_await loops::sleep(0s);
}

template <class T>
bool contains(const std::vector<Future<T>>& futures, const Future<T>& future) {
  return std::find(futures.begin(), futures.end(), future) != futures.end();
}

// What a wait() call gave, plus the state of its children at that moment.
struct WaitSeen {
  loops::WaitResult<int> result;
  std::exception_ptr raised;
  Nanos elapsed = 0;      // From the call to wait() until it returned.
  Nanos returned_at = 0;  // On the loop clock.
  bool slow_done = false;
  bool slow_cancelled = false;
};

// No return_when: wait() with its defaults (no timeout, ALL_COMPLETED).
Task<WaitSeen> wait_and_look(std::vector<Future<int>> children, loops::Timeout timeout,
                             std::optional<ReturnWhen> return_when, Future<int> slow) {
  loops::EventLoop& loop = loops::get_running_loop();
  WaitSeen seen;
  const Nanos start = loop.now();
  try {
    if (return_when) {
      seen.result = co_await loops::wait(std::move(children), timeout, *return_when);
    } else {
      seen.result = co_await loops::wait(std::move(children));
    }
  } catch (...) {
    seen.raised = std::current_exception();
  }
  seen.returned_at = loop.now();
  seen.elapsed = seen.returned_at - start;
  seen.slow_done = slow.done();
  seen.slow_cancelled = slow.cancelled();
  co_return seen;
}

}  // namespace

// --- wait -----------------------------------------------------------------------------

TEST_P(Conformance, WAIT_01) {
  // Bounds on when wait() returns count from here: the children's sleeps
  // start before wait() is called.
  const Nanos created = loop().now();
  auto ok = loop().create_task(value_after(10ms, 1));
  auto bad = loop().create_task(key_error_after(50ms));
  const WaitSeen seen =
      loop().run_until_complete(wait_and_look({ok, bad}, std::nullopt, std::nullopt, bad));
  EXPECT_FALSE(seen.raised) << "wait() must not raise a child's error";
  EXPECT_EQ(seen.result.done.size(), 2U);
  EXPECT_TRUE(seen.result.pending.empty());
  EXPECT_TRUE(contains(seen.result.done, ok.as_future()));
  EXPECT_TRUE(contains(seen.result.done, bad.as_future()));
  EXPECT_GE(seen.returned_at - created, ns(50ms));
  ASSERT_TRUE(ok.done() && bad.done());
  EXPECT_EQ(ok.result(), 1);
  // The caller reads the error from the future in the done set.
  EXPECT_TRUE(holds<std::out_of_range>(bad.exception()));
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, WAIT_02) {
  const Nanos created = loop().now();
  auto fast = loop().create_task(value_after(10ms, 1));
  auto slow = loop().create_task(value_after(200ms, 2));
  const WaitSeen seen = loop().run_until_complete(
      wait_and_look({fast, slow}, std::nullopt, ReturnWhen::FIRST_COMPLETED, slow));
  EXPECT_FALSE(seen.raised);
  EXPECT_EQ(seen.result.done, (std::vector<Future<int>>{fast}));
  EXPECT_EQ(seen.result.pending, (std::vector<Future<int>>{slow}));
  EXPECT_FALSE(seen.slow_done) << "wait() returned only after the slow child";
  EXPECT_FALSE(seen.slow_cancelled);
  EXPECT_GE(seen.returned_at - created, ns(10ms));
  EXPECT_LT(seen.elapsed, ns(1s));
  EXPECT_EQ(loop().run_until_complete(slow), 2);

  // A child that is cancelled counts as completed.
  auto first = loop().create_future<int>();
  auto second = loop().create_future<int>();
  loop().call_later(10ms, [first] { first.cancel(); });
  const WaitSeen cancelled = loop().run_until_complete(
      wait_and_look({first, second}, std::nullopt, ReturnWhen::FIRST_COMPLETED, second));
  EXPECT_FALSE(cancelled.raised);
  EXPECT_EQ(cancelled.result.done, (std::vector<Future<int>>{first}));
  EXPECT_EQ(cancelled.result.pending, (std::vector<Future<int>>{second}));
  EXPECT_TRUE(first.cancelled());
  EXPECT_FALSE(cancelled.slow_done);
  EXPECT_FALSE(second.cancelled());
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, WAIT_03) {
  // A child that raises ends the wait; the others stay pending and uncancelled.
  auto bad = loop().create_task(key_error_after(10ms));
  auto slow = loop().create_task(value_after(200ms, 2));
  const WaitSeen seen = loop().run_until_complete(
      wait_and_look({bad, slow}, std::nullopt, ReturnWhen::FIRST_EXCEPTION, slow));
  EXPECT_FALSE(seen.raised);
  EXPECT_EQ(seen.result.done, (std::vector<Future<int>>{bad}));
  EXPECT_EQ(seen.result.pending, (std::vector<Future<int>>{slow}));
  EXPECT_FALSE(seen.slow_done);
  EXPECT_FALSE(seen.slow_cancelled);
  EXPECT_TRUE(holds<std::out_of_range>(bad.exception()));
  EXPECT_EQ(loop().run_until_complete(slow), 2);

  // A child that had already failed when wait() was called ends it at once.
  auto failed = loop().create_future<int>();
  failed.set_exception(std::out_of_range("key"));
  auto slow2 = loop().create_task(value_after(200ms, 3));
  const WaitSeen early = loop().run_until_complete(
      wait_and_look({slow2, failed}, std::nullopt, ReturnWhen::FIRST_EXCEPTION, slow2));
  EXPECT_FALSE(early.raised);
  EXPECT_EQ(early.result.done, (std::vector<Future<int>>{failed}));
  EXPECT_EQ(early.result.pending, (std::vector<Future<int>>{slow2}));
  EXPECT_FALSE(early.slow_done);
  EXPECT_FALSE(early.slow_cancelled);
  EXPECT_TRUE(holds<std::out_of_range>(failed.exception()));
  EXPECT_EQ(loop().run_until_complete(slow2), 3);

  // Without an error, FIRST_EXCEPTION waits for all, like ALL_COMPLETED.
  const Nanos created = loop().now();
  auto quick = loop().create_task(value_after(10ms, 4));
  auto later = loop().create_task(value_after(60ms, 5));
  const WaitSeen all = loop().run_until_complete(
      wait_and_look({quick, later}, std::nullopt, ReturnWhen::FIRST_EXCEPTION, later));
  EXPECT_FALSE(all.raised);
  EXPECT_EQ(all.result.done.size(), 2U);
  EXPECT_TRUE(all.result.pending.empty());
  EXPECT_TRUE(all.slow_done);
  EXPECT_GE(all.returned_at - created, ns(60ms));
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, WAIT_04) {
  auto child = loop().create_task(value_after(200ms, 7));
  const WaitSeen seen =
      loop().run_until_complete(wait_and_look({child}, 10ms, ReturnWhen::ALL_COMPLETED, child));
  EXPECT_FALSE(seen.raised) << "wait() must not raise TimeoutError";
  EXPECT_TRUE(seen.result.done.empty());
  EXPECT_EQ(seen.result.pending, (std::vector<Future<int>>{child}));
  EXPECT_FALSE(seen.slow_done);
  EXPECT_FALSE(seen.slow_cancelled) << "wait() must not cancel on timeout";
  EXPECT_GE(seen.elapsed, ns(10ms));
  EXPECT_LT(seen.elapsed, ns(1s));
  // The child kept running and gives its value.
  EXPECT_EQ(loop().run_until_complete(child), 7);
  EXPECT_FALSE(child.cancelled());
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, WAIT_05) {
  // t1 finishes one iteration before t2; wait's callback for t1 wakes the
  // waiter in the iteration in which t2 finishes, so when wait() returns t2 is
  // done but its done callbacks have not run yet.
  auto t1 = loop().create_task(yield_times(1));
  auto t2 = loop().create_task(yield_times(2));
  bool t2_callback_ran = false;
  t2.add_done_callback([&](const Future<void>&) { t2_callback_ran = true; });
  struct Seen {
    std::size_t done = 0;
    std::size_t pending = 0;
    bool t2_callback_ran = true;
  };
  const Seen seen = loop().run_until_complete([&]() -> Task<Seen> {
    // Built outside the co_await: GCC 12 miscompiles an initializer list there.
    std::vector<Task<void>> children{t1, t2};
    auto result =
        co_await loops::wait(std::move(children), std::nullopt, ReturnWhen::FIRST_COMPLETED);
    Seen s;
    s.done = result.done.size();
    s.pending = result.pending.size();
    s.t2_callback_ran = t2_callback_ran;
    co_return s;
  }());
  EXPECT_EQ(seen.done, 2U);
  EXPECT_EQ(seen.pending, 0U);
  EXPECT_FALSE(seen.t2_callback_ran) << "the scenario did not reach the window it tests";
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, WAIT_06) {
  auto scheduled = loop().create_task(value_after(10ms, 1));
  bool bare_ran = false;
  auto bare = [](bool& ran) -> Task<int> {
    ran = true;
    co_return 2;
  }(bare_ran);
  struct Seen {
    std::exception_ptr empty, bad_return_when, coroutine;
  };
  const Seen seen = loop().run_until_complete([&]() -> Task<Seen> {
    Seen s;
    const std::vector<Task<int>> none;
    const std::vector<Task<int>> one{scheduled};
    const std::vector<Task<int>> with_coroutine{scheduled, bare};
    try {
      co_await loops::wait(none);
    } catch (...) {
      s.empty = std::current_exception();
    }
    try {
      co_await loops::wait(one, std::nullopt, static_cast<ReturnWhen>(42));
    } catch (...) {
      s.bad_return_when = std::current_exception();
    }
    try {
      co_await loops::wait(with_coroutine);
    } catch (...) {
      s.coroutine = std::current_exception();
    }
    co_return s;
  }());
  EXPECT_TRUE(holds<loops::ValueError>(seen.empty));
  EXPECT_TRUE(holds<loops::ValueError>(seen.bad_return_when));
  EXPECT_TRUE(holds<loops::TypeError>(seen.coroutine));
  // The refused coroutine was not wrapped in a task behind the caller's back.
  EXPECT_FALSE(bare.scheduled());
  EXPECT_EQ(loop().run_until_complete(scheduled), 1);
  EXPECT_FALSE(bare_ran);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

// --- wait_for -------------------------------------------------------------------------

TEST_P(Conformance, WFOR_01) {
  auto quick = loop().create_task(value_after(10ms, 7));
  EXPECT_EQ(loop().run_until_complete(loops::wait_for(quick, 1s)), 7);
  EXPECT_FALSE(quick.cancelled());
  EXPECT_EQ(loop().run_until_complete(loops::wait_for(value_after(10ms, 8), 1s)), 8);

  auto future = loop().create_future<int>();
  loop().call_later(10ms, [future] { future.set_result(9); });
  EXPECT_EQ(loop().run_until_complete(loops::wait_for(future, 1s)), 9);

  // No timeout waits as long as it takes (a day of virtual time on sim).
  const Ms long_wait = traits().real_time ? Ms(300ms) : Ms(24h);
  const Nanos start = loop().now();
  EXPECT_EQ(loop().run_until_complete(loops::wait_for(value_after(long_wait, 10), std::nullopt)),
            10);
  EXPECT_GE(loop().now() - start, ns(long_wait));
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, WFOR_02) {
  // The inner task needs 50 ms to finish cancelling; wait_for must wait for it.
  bool cleaned_up = false;
  auto inner = loop().create_task([](bool& cleaned) -> Task<int> {
    bool cancelled = false;
    try {
      co_await loops::sleep(10s);
    } catch (const loops::CancelledError&) {
      cancelled = true;
    }
    if (cancelled) {
      co_await loops::sleep(50ms);
      cleaned = true;
      throw loops::CancelledError();
    }
    co_return 1;
  }(cleaned_up));
  struct Seen {
    bool timed_out = false;
    std::exception_ptr other;
    bool cleaned_up = false;
    bool inner_cancelled = false;
    Nanos elapsed = 0;
  };
  const Seen seen = loop().run_until_complete([&]() -> Task<Seen> {
    Seen s;
    const Nanos start = loop().now();
    try {
      co_await loops::wait_for(inner, 10ms);
    } catch (const loops::TimeoutError&) {
      s.timed_out = true;
    } catch (...) {
      s.other = std::current_exception();
    }
    s.elapsed = loop().now() - start;
    s.cleaned_up = cleaned_up;
    s.inner_cancelled = inner.cancelled();
    co_return s;
  }());
  EXPECT_TRUE(seen.timed_out);
  EXPECT_FALSE(seen.other) << "expected TimeoutError, got "
                           << loops::describe_exception(seen.other);
  EXPECT_TRUE(seen.cleaned_up) << "TimeoutError came before the inner task finished cancelling";
  EXPECT_TRUE(seen.inner_cancelled);
  EXPECT_GE(seen.elapsed, ns(60ms));
  EXPECT_LT(seen.elapsed, ns(1s) + ns(60ms));
  // C++ exceptions have no __context__; the cancelled inner task stands for
  // the CancelledError that CPython chains to the TimeoutError.

  // A timeout <= 0 has already expired: a pending awaitable is cancelled at
  // once (a coroutine never starts) and TimeoutError raised; a done one gives
  // its result (TW::test_wait_for_timeout_less_then_0_or_0_*).
  for (const loops::Timeout expired : {loops::Timeout{0s}, loops::Timeout{-1s}}) {
    int starts = 0;
    auto counted = [](int& runs) -> Task<int> {
      ++runs;
      co_await loops::sleep(0s);
      co_return 5;
    };
    EXPECT_THROW(loop().run_until_complete(loops::wait_for(counted(starts), expired)),
                 loops::TimeoutError);
    EXPECT_EQ(starts, 0) << "the coroutine started although the timeout had expired";
    auto started = loop().create_task(value_after(Ms(1h), 5));
    run_once();
    EXPECT_THROW(loop().run_until_complete(loops::wait_for(started, expired)), loops::TimeoutError);
    EXPECT_TRUE(started.cancelled());
    auto done = loop().create_future<int>();
    done.set_result(3);
    EXPECT_EQ(loop().run_until_complete(loops::wait_for(done, expired)), 3);
  }
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, WFOR_03) {
  // With no timeout (bpo-23219) and with one that has not expired.
  for (const loops::Timeout timeout : {loops::Timeout{}, loops::Timeout{10s}}) {
    SCOPED_TRACE(timeout ? "timeout=10s" : "timeout=None");
    auto inner = loop().create_task(value_after(10s, 1));
    auto outer = loop().create_task(loops::wait_for(inner, timeout));
    loop().call_later(10ms, [outer] { outer.cancel(); });
    EXPECT_THROW(loop().run_until_complete(outer), loops::CancelledError);
    EXPECT_TRUE(outer.cancelled());
    EXPECT_TRUE(inner.cancelled()) << "the inner awaitable must be cancelled with its caller";

    // A result that arrives in the iteration of the caller's cancel does not
    // swallow it (3.12+; TW::test_wait_for_issue86296, GH-86296).
    auto future = loop().create_future<int>();
    bool carried_on = false;
    auto caller = loop().create_task(
        [](Future<int> awaited, loops::Timeout limit, bool& after) -> Task<void> {
          co_await loops::wait_for(awaited, limit);
          co_await loops::sleep(0s);
          after = true;
        }(future, timeout, carried_on));
    run_once();
    future.set_result(2);
    caller.cancel();
    EXPECT_THROW(loop().run_until_complete(caller), loops::CancelledError);
    EXPECT_FALSE(carried_on) << "wait_for swallowed the caller's cancellation";
    EXPECT_EQ(future.result(), 2);
  }
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, WFOR_05) {
  // The inner future completes in the very iteration in which the timeout
  // fires, and after the timeout's own callback: the result still wins.
  const std::chrono::duration<double> timeout = 50ms;
  auto future = loop().create_future<int>();
  auto waiter = loop().create_task(loops::wait_for(future, timeout));
  loops::TimerHandle setter;
  bool set = false;
  // Queued behind the wait_for task's first step, so this timer's deadline
  // is equal (virtual time) or later, and it fires after wait_for's timer.
  loop().call_soon([&] {
    setter = loop().call_later(timeout, [&, future] {
      future.set_result(42);
      set = true;
    });
    if (traits().real_time) {
      // Hold the loop until both deadlines have passed, so that they fall
      // due in the same iteration.
      loop().call_later(10ms, [&] {
        while (loop().now() < setter.when()) {
        }
      });
    }
  });
  int value = 0;
  EXPECT_NO_THROW(value = loop().run_until_complete(waiter));
  EXPECT_EQ(value, 42);
  EXPECT_FALSE(future.cancelled());
  EXPECT_TRUE(set);

  // 3.12+ (GH-86296): an inner awaitable that suppresses the cancellation
  // and returns a value makes wait_for return that value.
  bool asked_to_cancel = false;
  auto suppressing = [](bool& asked) -> Task<int> {
    try {
      co_await loops::sleep(10s);
    } catch (const loops::CancelledError&) {
      asked = true;
    }
    co_return asked ? 42 : 0;
  };
  int suppressed = 0;
  EXPECT_NO_THROW(
      suppressed = loop().run_until_complete(loops::wait_for(suppressing(asked_to_cancel), 10ms)));
  EXPECT_TRUE(asked_to_cancel);
  EXPECT_EQ(suppressed, 42);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

// --- as_completed ---------------------------------------------------------------------

TEST_P(Conformance, ASC_01) {
  auto a = loop().create_task(value_after(300ms, 'a'));
  auto b = loop().create_task(value_after(10ms, 'b'));
  auto c = loop().create_task(value_after(60ms, 'c'));
  struct Seen {
    std::string order;
    bool a_done_after_first = true;
  };
  const Seen seen = loop().run_until_complete([&]() -> Task<Seen> {
    Seen s;
    auto next = loops::as_completed(std::vector<Task<char>>{a, b, c});
    for (auto& one : next) {
      s.order += co_await one;
      if (s.order.size() == 1) s.a_done_after_first = a.done();
    }
    co_return s;
  }());
  EXPECT_EQ(seen.order, "bca");
  EXPECT_FALSE(seen.a_done_after_first) << "results must come as they complete, not at the end";
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

TEST_P(Conformance, ASC_02) {
  // No race between the timeout and the children: `quick` is done before
  // as_completed() is called and `slow` waits for `release`, which is set
  // only after the timeout, so however late the loop runs, one result comes
  // before the TimeoutError and the other task is still pending then.
  auto quick = loop().create_task(value_after(0ms, 'q'));
  auto release = loop().create_future<char>();
  auto slow =
      loop().create_task([](Future<char> gate) -> Task<char> { co_return co_await gate; }(release));
  constexpr auto timeout = 1s;
  struct Seen {
    std::string got;
    bool timed_out = false;
    std::exception_ptr other;
    Nanos elapsed = 0;
    bool slow_done = true;
    bool slow_cancelled = true;
  };
  const Seen seen = loop().run_until_complete([&]() -> Task<Seen> {
    Seen s;
    co_await quick;
    const Nanos start = loop().now();
    for (auto& one : loops::as_completed(std::vector<Task<char>>{quick, slow}, timeout)) {
      try {
        s.got += co_await one;
      } catch (const loops::TimeoutError&) {
        s.timed_out = true;
        s.elapsed = loop().now() - start;
        s.slow_done = slow.done();
        s.slow_cancelled = slow.cancelled();
      } catch (...) {
        s.other = std::current_exception();
      }
    }
    co_return s;
  }());
  EXPECT_EQ(seen.got, "q");
  EXPECT_TRUE(seen.timed_out);
  EXPECT_FALSE(seen.other) << "expected TimeoutError, got "
                           << loops::describe_exception(seen.other);
  EXPECT_GE(seen.elapsed, ns(timeout));
  EXPECT_FALSE(seen.slow_done);
  EXPECT_FALSE(seen.slow_cancelled) << "as_completed must not cancel on timeout";
  release.set_result('s');
  EXPECT_EQ(loop().run_until_complete(slow), 's');
  EXPECT_FALSE(slow.cancelled());
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

}  // namespace conformance
