// SEMANTICS.md area 3: futures (FUT-*).
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace conformance {
namespace {

using loops::CancelledError;
using loops::Future;
using loops::InvalidStateError;
using loops::Task;

// Plays Python's KeyError: an ordinary error of a kind the core never throws.
struct KeyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The address of the object an exception_ptr holds.
const void* address_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const KeyError& e) {
    return &e;
  } catch (...) {
  }
  return nullptr;
}

Task<int> await_once(Future<int> f) {
  co_return co_await f;
}

Task<int> await_twice(Future<int> f) {
  const int first = co_await f;
  const int second = co_await f;
  co_return first == second ? first : -1;
}

Task<std::string> cancel_message_seen(Future<int> f) {
  try {
    co_await f;
  } catch (const CancelledError& e) {
    co_return e.message();
  }
  co_return "not cancelled";
}

Task<int> fail_with_key_error() {
  co_await loops::sleep(0ms);
  throw KeyError("task");
}

// Runs `on_destroy` when destroyed: a done callback whose destructor is user
// code, as a Python callback's __eq__ is during remove_done_callback.
class RunsOnDestroy {
 public:
  explicit RunsOnDestroy(std::function<void()> on_destroy) : on_destroy_(std::move(on_destroy)) {}
  RunsOnDestroy(RunsOnDestroy&& other) noexcept
      : on_destroy_(std::exchange(other.on_destroy_, nullptr)) {}
  RunsOnDestroy(const RunsOnDestroy&) = delete;
  RunsOnDestroy& operator=(const RunsOnDestroy&) = delete;
  RunsOnDestroy& operator=(RunsOnDestroy&&) = delete;
  ~RunsOnDestroy() {
    if (on_destroy_) on_destroy_();
  }

 private:
  std::function<void()> on_destroy_;
};

std::vector<char>* callback_log = nullptr;
void log_a(Future<int>) {
  callback_log->push_back('a');
}
void log_b(Future<int>) {
  callback_log->push_back('b');
}

}  // namespace

TEST_P(Conformance, FUT_01) {
  auto f = loop().create_future<int>();
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.cancelled());
  auto v = loop().create_future<void>();
  EXPECT_FALSE(v.done());
  EXPECT_FALSE(v.cancelled());
}

TEST_P(Conformance, FUT_02) {
  auto f = loop().create_future<int>();
  EXPECT_THROW(f.result(), InvalidStateError);
  EXPECT_THROW(f.exception(), InvalidStateError);
  auto v = loop().create_future<void>();
  EXPECT_THROW(v.result(), InvalidStateError);
  EXPECT_THROW(v.exception(), InvalidStateError);
  EXPECT_FALSE(f.done()) << "querying a pending future changed its state";
}

TEST_P(Conformance, FUT_03) {
  auto with_result = loop().create_future<int>();
  with_result.set_result(1);
  EXPECT_THROW(with_result.set_result(2), InvalidStateError);
  EXPECT_THROW(with_result.set_exception(KeyError("late")), InvalidStateError);
  EXPECT_EQ(with_result.result(), 1) << "a refused set_* changed the result";

  auto with_error = loop().create_future<int>();
  const auto error = std::make_exception_ptr(KeyError("first"));
  with_error.set_exception(error);
  EXPECT_THROW(with_error.set_result(2), InvalidStateError);
  EXPECT_THROW(with_error.set_exception(KeyError("late")), InvalidStateError);
  EXPECT_EQ(with_error.exception(), error);

  auto cancelled = loop().create_future<int>();
  EXPECT_TRUE(cancelled.cancel());
  EXPECT_THROW(cancelled.set_result(2), InvalidStateError);
  EXPECT_THROW(cancelled.set_exception(KeyError("late")), InvalidStateError);
  EXPECT_TRUE(cancelled.cancelled());

  auto void_done = loop().create_future<void>();
  void_done.set_result();
  EXPECT_THROW(void_done.set_result(), InvalidStateError);
}

TEST_P(Conformance, FUT_04) {
  auto f = loop().create_future<int>();
  f.set_result(42);
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 42);
  EXPECT_EQ(f.exception(), nullptr);

  auto g = loop().create_future<int>();
  const auto error = std::make_exception_ptr(KeyError("k"));
  g.set_exception(error);
  EXPECT_TRUE(g.done());
  EXPECT_FALSE(g.cancelled());
  EXPECT_EQ(g.exception(), error);
  const void* raised = nullptr;
  try {
    g.result();
  } catch (const KeyError& e) {
    raised = &e;
  }
  ASSERT_NE(raised, nullptr) << "result() did not raise the stored error's kind";
  EXPECT_EQ(raised, address_of(error)) << "result() raised a copy, not the stored error";
}

TEST_P(Conformance, FUT_05) {
  auto f = loop().create_future<int>();
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.result(), CancelledError);
  EXPECT_THROW(f.exception(), CancelledError);
  EXPECT_FALSE(f.cancel()) << "cancel() on a cancelled future";

  auto with_result = loop().create_future<int>();
  with_result.set_result(3);
  EXPECT_FALSE(with_result.cancel());
  EXPECT_FALSE(with_result.cancelled());
  EXPECT_EQ(with_result.result(), 3);

  auto with_error = loop().create_future<int>();
  with_error.set_exception(KeyError("k"));
  EXPECT_FALSE(with_error.cancel());
  EXPECT_FALSE(with_error.cancelled());
  EXPECT_THROW(with_error.result(), KeyError);
}

TEST_P(Conformance, FUT_06) {
  std::vector<std::string> log;
  auto on_result = loop().create_future<int>();
  auto on_error = loop().create_future<int>();
  auto on_cancel = loop().create_future<int>();
  on_result.add_done_callback([&](const Future<int>&) { log.push_back("result"); });
  on_error.add_done_callback(
      [&](const Future<int>& f) { log.push_back(f.exception() ? "error" : "no error"); });
  on_cancel.add_done_callback([&](const Future<int>&) { log.push_back("cancel"); });

  on_result.set_result(1);
  EXPECT_TRUE(log.empty()) << "set_result ran a done callback inline";
  on_error.set_exception(KeyError("k"));
  EXPECT_TRUE(log.empty()) << "set_exception ran a done callback inline";
  on_cancel.cancel();
  EXPECT_TRUE(log.empty()) << "cancel ran a done callback inline";

  run_once();
  EXPECT_EQ(log, (std::vector<std::string>{"result", "error", "cancel"}));
}

TEST_P(Conformance, FUT_07) {
  std::vector<std::string> log;
  auto finished = loop().create_future<int>();
  finished.set_result(1);
  auto cancelled = loop().create_future<int>();
  cancelled.cancel();
  run_once();

  finished.add_done_callback([&](const Future<int>&) { log.push_back("finished"); });
  cancelled.add_done_callback([&](const Future<int>&) { log.push_back("cancelled"); });
  EXPECT_TRUE(log.empty()) << "add_done_callback on a done future ran it inline";
  run_once();
  EXPECT_EQ(log, (std::vector<std::string>{"finished", "cancelled"}));
}

TEST_P(Conformance, FUT_08) {
  std::vector<int> log;
  std::vector<bool> got_future;
  auto f = loop().create_future<int>();
  f.add_done_callback([&](const Future<int>& got) {
    log.push_back(42);
    got_future.push_back(got == f);
  });
  f.add_done_callback([&](const Future<int>& got) {
    log.push_back(17);
    got_future.push_back(got == f);
  });
  f.set_result(0);
  run_once();
  EXPECT_EQ(log, (std::vector<int>{42, 17}));
  EXPECT_EQ(got_future, (std::vector<bool>{true, true}));
}

TEST_P(Conformance, FUT_09) {
  std::vector<char> log;
  callback_log = &log;
  auto f = loop().create_future<int>();
  f.add_done_callback(&log_a);
  f.add_done_callback(&log_b);
  f.add_done_callback(&log_a);
  const auto c = f.add_done_callback([&](const Future<int>&) { log.push_back('c'); });
  const auto d = f.add_done_callback([&](const Future<int>&) { log.push_back('d'); });
  EXPECT_EQ(f.remove_done_callback(&log_a), 2U);
  EXPECT_EQ(f.remove_done_callback(&log_a), 0U);
  EXPECT_EQ(f.remove_done_callback(d), 1U);
  f.set_result(0);
  run_once();
  EXPECT_EQ(log, (std::vector<char>{'b', 'c'}));
  EXPECT_NE(c, d);
  callback_log = nullptr;
}

TEST_P(Conformance, FUT_REMOVE_01) {
  std::vector<std::string> log;
  // K's destructor removes J: J is freed once and never runs.
  int j_destroyed = 0;
  std::size_t removed_by_destructor = 0;
  auto f = loop().create_future<int>();
  const auto j = f.add_done_callback([&log, guard = RunsOnDestroy([&] { ++j_destroyed; })](
                                         const Future<int>&) { log.push_back("J"); });
  const auto k = f.add_done_callback([&log, guard = RunsOnDestroy([&] {
                                              removed_by_destructor = f.remove_done_callback(j);
                                            })](const Future<int>&) { log.push_back("K"); });
  EXPECT_EQ(f.remove_done_callback(k), 1U);
  EXPECT_EQ(removed_by_destructor, 1U) << "the destructor's removal did not find J";
  EXPECT_EQ(j_destroyed, 1);
  f.set_result(1);
  run_once();
  EXPECT_TRUE(log.empty()) << "a removed callback ran: " << log.front();
  EXPECT_EQ(j_destroyed, 1) << "J was freed twice";

  // K's destructor adds L: L stays registered, after the callbacks kept.
  auto g = loop().create_future<int>();
  g.add_done_callback([&log](const Future<int>&) { log.push_back("first"); });
  const auto k2 = g.add_done_callback(
      [&log, guard = RunsOnDestroy([&] {
               g.add_done_callback([&log](const Future<int>&) { log.push_back("L"); });
             })](const Future<int>&) { log.push_back("K"); });
  g.add_done_callback([&log](const Future<int>&) { log.push_back("last"); });
  EXPECT_EQ(g.remove_done_callback(k2), 1U);
  g.set_result(2);
  run_once();
  EXPECT_EQ(log, (std::vector<std::string>{"first", "last", "L"}));
}

TEST_P(Conformance, FUT_10) {
  auto f = loop().create_future<int>();
  auto first = loop().create_task(await_once(f));
  auto second = loop().create_task(await_once(f));
  auto twice = loop().create_task(await_twice(f));
  run_once();
  EXPECT_FALSE(first.done() || second.done() || twice.done());
  f.set_result(42);
  ASSERT_NO_FATAL_FAILURE(run_until([&] { return first.done() && second.done() && twice.done(); }));
  EXPECT_EQ(first.result(), 42);
  EXPECT_EQ(second.result(), 42);
  EXPECT_EQ(twice.result(), 42);
  // Awaiting it again once done gives the same result.
  EXPECT_EQ(loop().run_until_complete(await_once(f)), 42);

  auto g = loop().create_future<int>();
  auto a = loop().create_task(await_once(g));
  auto b = loop().create_task(await_once(g));
  run_once();
  g.set_exception(KeyError("shared"));
  ASSERT_NO_FATAL_FAILURE(run_until([&] { return a.done() && b.done(); }));
  EXPECT_THROW(a.result(), KeyError);
  EXPECT_THROW(b.result(), KeyError);
  EXPECT_EQ(address_of(a.exception()), address_of(g.exception()));
  EXPECT_EQ(address_of(b.exception()), address_of(g.exception()));
}

TEST_P(Conformance, FUT_11) {
  struct CallbackBoom : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  std::vector<int> log;
  auto f = loop().create_future<int>();
  f.add_done_callback([&](const Future<int>&) { log.push_back(1); });
  f.add_done_callback([](const Future<int>&) -> void { throw CallbackBoom("boom"); });
  f.add_done_callback([&](const Future<int>&) { log.push_back(3); });
  f.set_result(0);
  EXPECT_NO_THROW(run_once()) << "a done callback's error escaped the loop";
  EXPECT_EQ(log, (std::vector<int>{1, 3}));
  ASSERT_EQ(handled_errors.size(), 1U);
  EXPECT_THROW(std::rethrow_exception(handled_errors[0].exception), CallbackBoom);
}

TEST_P(Conformance, FUT_12) {
  const auto error = std::make_exception_ptr(KeyError("never retrieved"));
  {
    auto f = loop().create_future<int>();
    f.set_exception(error);
  }
  ASSERT_EQ(handled_errors.size(), 1U) << "an unretrieved future error was not reported";
  EXPECT_EQ(handled_errors[0].exception, error);
  EXPECT_FALSE(handled_errors[0].message.empty());
  handled_errors.clear();

  {
    auto f = loop().create_future<int>();
    f.set_exception(error);
    EXPECT_EQ(f.exception(), error);
  }
  EXPECT_TRUE(handled_errors.empty()) << "reported although exception() retrieved it";
  {
    auto f = loop().create_future<int>();
    f.set_exception(error);
    EXPECT_THROW(f.result(), KeyError);
  }
  EXPECT_TRUE(handled_errors.empty()) << "reported although result() retrieved it";
  {
    auto f = loop().create_future<int>();
    f.set_exception(error);
    EXPECT_FALSE(f.cancel());
  }
  EXPECT_TRUE(handled_errors.empty()) << "reported although cancel() was called on the future";

  // Tasks: a failed task nobody inspects is reported once, with its error.
  {
    auto t = loop().create_task(fail_with_key_error());
    ASSERT_NO_FATAL_FAILURE(run_until([&] { return t.done(); }));
  }
  ASSERT_EQ(handled_errors.size(), 1U) << "an unretrieved task error was not reported";
  EXPECT_THROW(std::rethrow_exception(handled_errors[0].exception), KeyError);
  handled_errors.clear();
  {
    auto t = loop().create_task(fail_with_key_error());
    ASSERT_NO_FATAL_FAILURE(run_until([&] { return t.done(); }));
    EXPECT_FALSE(t.cancel());
  }
  EXPECT_TRUE(handled_errors.empty()) << "reported although cancel() was called on the task";
  {
    auto never = loop().create_future<int>();
    auto t = loop().create_task(await_once(never));
    run_once();
    EXPECT_TRUE(t.cancel());
    ASSERT_NO_FATAL_FAILURE(run_until([&] { return t.done(); }));
    EXPECT_TRUE(t.cancelled());
  }
  EXPECT_TRUE(handled_errors.empty()) << "a cancelled task was reported";
}

TEST_P(Conformance, FUT_13) {
  auto f = loop().create_future<int>();
  auto catcher = loop().create_task(cancel_message_seen(f));
  auto plain = loop().create_task(await_once(f));
  run_once();
  EXPECT_TRUE(f.cancel("bye"));
  EXPECT_EQ(cancelled_message([&] { f.result(); }), "bye");
  EXPECT_EQ(cancelled_message([&] { f.exception(); }), "bye");
  ASSERT_NO_FATAL_FAILURE(run_until([&] { return catcher.done() && plain.done(); }));
  EXPECT_EQ(catcher.result(), "bye");
  EXPECT_TRUE(plain.cancelled());
  EXPECT_EQ(cancelled_message([&] { plain.result(); }), "bye");
}

}  // namespace conformance
