// The clean-up after a run (scenarios/detail/harness.hpp), on every available
// backend: it cancels the tasks that appear while it waits, and it ends even
// when a task ignores its cancellation.
#include "scenarios/detail/harness.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "loops/loops.hpp"

namespace {

using namespace std::chrono_literals;
using scenarios::Result;
using scenarios::Status;
using scenarios::detail::Tracker;

// The clean-up's limit in these tests, and how late it may end on a loaded
// machine: far beyond what it takes, well within what a hang would.
constexpr auto kCleanupLimit = 200ms;
constexpr auto kCleanupSlack = 5s;

loops::Task<void> sleep_forever() {
  co_await loops::sleep(1h);
}

// When cancelled, starts another task before it ends, as a server does that
// accepts a connection while the clean-up waits.
loops::Task<void> start_another_when_cancelled() {
  try {
    co_await loops::sleep(1h);
  } catch (const loops::CancelledError&) {
    loops::get_running_loop().create_task(sleep_forever());
    throw;
  }
}

// Swallows every cancellation and sleeps on.
loops::Task<void> ignore_cancellation() {
  for (;;) {
    try {
      co_await loops::sleep(1h);
    } catch (const loops::CancelledError&) {
    }
  }
}

loops::Task<void> one_iteration() {
  co_await loops::sleep(0s);
}

class HarnessTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { loop_ = loops::make_loop(GetParam()); }
  void TearDown() override {
    if (loop_) loop_->close();
  }
  std::unique_ptr<loops::EventLoop> loop_;
};

TEST_P(HarnessTest, TheCleanUpCancelsTasksStartedWhileItWaits) {
  Result result;
  Tracker tracker(result);
  for (int i = 0; i < 3; ++i) loop_->create_task(start_another_when_cancelled());
  loop_->run_until_complete(one_iteration());

  scenarios::detail::cancel_leftovers(*loop_, tracker);
  EXPECT_EQ(loop_->pending_task_count(), 0U);
  EXPECT_EQ(result.status, Status::ok) << result.error;
}

TEST_P(HarnessTest, TheCleanUpEndsWhenATaskIgnoresItsCancellation) {
  Result result;
  Tracker tracker(result);
  loop_->create_task(ignore_cancellation());
  loop_->create_task(sleep_forever());
  loop_->run_until_complete(one_iteration());

  const auto start = std::chrono::steady_clock::now();
  scenarios::detail::cancel_leftovers(*loop_, tracker, kCleanupLimit);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kCleanupLimit + kCleanupSlack);
  EXPECT_EQ(loop_->pending_task_count(), 1U);
  EXPECT_EQ(result.status, Status::error);
  EXPECT_EQ(result.error, "1 tasks still pending 200ms after their cancellation");
  // The task that will not end dies with the loop, which says so.
  loop_->set_exception_handler([](loops::EventLoop&, const loops::ExceptionContext&) {});
  loop_->close();
  loop_.reset();
}

INSTANTIATE_TEST_SUITE_P(, HarnessTest, ::testing::ValuesIn(loops::available_backend_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
