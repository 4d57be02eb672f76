#include "harness.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

namespace conformance {

// Ends the process if one test runs far past any sane bound, so running the
// binary by hand never hangs (ctest also has a per-test TIMEOUT).
struct Watchdog {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  std::thread thread;
  explicit Watchdog(std::string name) {
    thread = std::thread([this, name = std::move(name)] {
      std::unique_lock lock(mutex);
      if (!cv.wait_for(lock, std::chrono::seconds(45), [this] { return done; })) {
        std::fprintf(stderr, "conformance: %s hung for 45 s; aborting\n", name.c_str());
        std::abort();
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    cv.notify_all();
    thread.join();
  }
};

namespace {
std::string current_compat_reason;
}

void Conformance::SetUp() {
  current_compat_reason.clear();
  const auto* entry = loops::find_backend(GetParam());
  ASSERT_NE(entry, nullptr);
  if (entry->unavailable_reason) {
    if (auto reason = entry->unavailable_reason())
      GTEST_SKIP() << GetParam() << " unavailable: " << *reason;
  }
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  watchdog_ = std::make_shared<Watchdog>(std::string(info->test_suite_name()) + "." + info->name());
  loop_ = loops::make_loop(GetParam());
  traits_ = loop_->backend().traits();
  loop_->set_exception_handler([this](loops::EventLoop&, const loops::ExceptionContext& context) {
    handled_errors.push_back(context);
  });
}

void Conformance::TearDown() {
  if (loop_ && !loop_->is_running()) loop_->close();
  loop_.reset();
  watchdog_.reset();
}

void Conformance::run_once() {
  loop().call_soon([this] { loop().stop(); });
  loop().run_forever();
}

void Conformance::run_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto start = wall_now();
  while (!done()) {
    ASSERT_LT(wall_now() - start, limit) << "condition not reached in time";
    loop().run_until_complete([]() -> loops::Task<void> { co_await loops::sleep(1ms); }());
  }
}

void Conformance::record_compat(const std::string& reason) {
  current_compat_reason = reason;
  RecordProperty("compat", reason);
}

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const auto& entry : loops::registered_backends()) names.push_back(entry.name);
  return names;
}

namespace {

// Turns test results into the conformance matrix.
class MatrixWriter : public ::testing::EmptyTestEventListener {
 public:
  explicit MatrixWriter(std::string path) : path_(std::move(path)) {}

  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (std::string(info.test_suite_name()).find("Conformance") == std::string::npos) return;
    const auto* result = info.result();
    std::string rule = info.name();
    rule = rule.substr(0, rule.find('/'));
    for (char& c : rule) {
      if (c == '_') c = '-';
    }
    std::string status = "pass";
    std::string reason;
    if (result->Failed()) {
      status = "fail";
      for (int i = 0; i < result->total_part_count(); ++i) {
        const auto& part = result->GetTestPartResult(i);
        if (part.failed()) {
          reason = part.summary();
          break;
        }
      }
    } else if (result->Skipped()) {
      status = "skip";
      for (int i = 0; i < result->total_part_count(); ++i)
        reason = result->GetTestPartResult(i).message();
    } else if (!current_compat_reason.empty()) {
      status = "compat";
      reason = current_compat_reason;
    }
    rows_.push_back({{"backend", info.value_param() ? strip_quotes(info.value_param()) : ""},
                     {"rule", rule},
                     {"result", status},
                     {"reason", reason}});
  }

  void OnTestProgramEnd(const ::testing::UnitTest& unit) override {
    // The counts the log ends with, so that a report can say the same.
    const nlohmann::json tests = {{"run", unit.test_to_run_count()},
                                  {"passed", unit.successful_test_count()},
                                  {"skipped", unit.skipped_test_count()},
                                  {"failed", unit.failed_test_count()}};
    std::ofstream out(path_);
    out << nlohmann::json{{"schema", "loopbench-conformance-1"}, {"tests", tests}, {"rows", rows_}}
               .dump(1)
        << "\n";
    if (!out) std::fprintf(stderr, "conformance: cannot write %s\n", path_.c_str());
  }

 private:
  static std::string strip_quotes(std::string s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return s;
  }
  std::string path_;
  nlohmann::json::array_t rows_;
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(, Conformance, ::testing::ValuesIn(backend_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace conformance

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--matrix=", 0) == 0) {
      ::testing::UnitTest::GetInstance()->listeners().Append(
          new conformance::MatrixWriter(arg.substr(std::string("--matrix=").size())));
    } else {
      std::fprintf(stderr, "conformance_tests: unknown argument '%s' (expected --matrix=PATH)\n",
                   argv[i]);
      return 2;
    }
  }
  return RUN_ALL_TESTS();
}
