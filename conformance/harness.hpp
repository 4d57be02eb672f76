// The conformance harness: one fixture, instantiated over every registered
// backend, so a new backend gets the whole suite with no test edits.
//
// Each test is named after its SEMANTICS.md rule ID with '-' spelled '_'
// (LOOP-RUC-01 is LOOP_RUC_01). Running the binary with
// --matrix=PATH writes the conformance matrix: one row per (backend, rule)
// with pass, fail, skip or compat and the reason, and the whole run's test
// counts (run, passed, skipped, failed) as its log ends with them.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "loops/loops.hpp"

namespace conformance {

using namespace std::chrono_literals;

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
  void TearDown() override;

  loops::EventLoop& loop() { return *loop_; }
  const loops::BackendTraits& traits() const { return traits_; }
  const std::string& backend() const { return GetParam(); }

  // Runs exactly one iteration: asyncio's call_soon(stop); run_forever().
  void run_once();
  // Runs the loop until `done()` holds, at most `limit` (then fails).
  void run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms);

  // Records that this backend differs from CPython on an IMPL-level rule;
  // the test passes and the matrix says "compat" with the reason.
  void record_compat(const std::string& reason);

  // Everything the loop's exception handler received.
  std::vector<loops::ExceptionContext> handled_errors;

  std::unique_ptr<loops::EventLoop> loop_;

 private:
  loops::BackendTraits traits_;
  std::shared_ptr<struct Watchdog> watchdog_;
};

// Every registered backend's name: the suite's parameter values.
std::vector<std::string> backend_names();

// A generous bound for "promptly" on a loaded 2-core machine.
inline constexpr auto kPromptly = 2s;

// Monotonic wall clock, independent of the loop's backend.
inline std::chrono::steady_clock::time_point wall_now() {
  return std::chrono::steady_clock::now();
}
inline double elapsed_s(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(wall_now() - since).count();
}

// True when `error` holds an exception of kind E.
template <class E>
bool holds(const std::exception_ptr& error) {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

// The message of the CancelledError that `f` throws, or nullopt if it
// returns. Other kinds propagate and fail the test.
template <class F>
std::optional<std::string> cancelled_message(F&& f) {
  try {
    f();
  } catch (const loops::CancelledError& e) {
    return e.message();
  }
  return std::nullopt;
}

// The loop's exception handler saw nothing: no callback failed behind the
// test's back and no task error went unretrieved.
inline ::testing::AssertionResult no_loop_errors(
    const std::vector<loops::ExceptionContext>& errors) {
  if (errors.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << errors.size() << " loop error(s), first: " << errors[0].message << ": "
         << loops::describe_exception(errors[0].exception);
}

}  // namespace conformance

// Rules that need real threads or a real clock cannot run on virtual time.
#define REQUIRE_THREADS()                                                 \
  if (!traits().threads)                                                  \
  GTEST_SKIP() << backend()                                               \
               << " has no real threads (virtual time): this rule needs " \
                  "a second thread racing the loop"
#define REQUIRE_REAL_TIME()                                             \
  if (!traits().real_time)                                              \
  GTEST_SKIP() << backend()                                             \
               << " runs on virtual time: this rule measures the wall " \
                  "clock"
// A Python rule that C++ enforces at compile time (e.g. a TypeError for a
// non-awaitable argument): there is nothing to run.
#define SKIP_COMPILE_TIME(why) GTEST_SKIP() << "enforced at compile time in C++: " << why
