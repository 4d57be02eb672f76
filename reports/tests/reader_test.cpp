// The readers refuse every malformed input with one InputError that names the
// file and the field, and never crash, hang or read without end; every input
// the fuzz targets ever crashed on is replayed here.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../fuzz/exercise.hpp"
#include "reports/report.hpp"

namespace {

namespace fs = std::filesystem;

// The message of the InputError that reading `text` as a bench file throws.
std::string bench_error(const std::string& text) {
  try {
    reports::parse_run_file("run.json", text);
  } catch (const reports::InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << text;
  return "";
}

// A one-benchmark file whose entry has `fields` besides its name.
std::string one_entry(const std::string& fields, const std::string& context = "{}") {
  return R"({"context": )" + context + R"(, "benchmarks": [{"name": "gather/epoll/n=1", )" +
         fields + "}]}";
}

const std::string kTimes = R"("time_unit": "ns", "real_time": 10, "cpu_time": 5)";

void expect_error(const std::string& text, const std::string& expected) {
  EXPECT_EQ(bench_error(text), expected) << text;
}

TEST(BenchReader, MistypedOptionalFieldsNameTheField) {
  expect_error(one_entry(R"("run_type": 1, )" + kTimes),
               "run.json: field benchmarks[0].run_type: expected string, found number");
  expect_error(one_entry(R"("run_type": "sometimes", )" + kTimes),
               "run.json: field benchmarks[0].run_type: expected \"iteration\" or "
               "\"aggregate\", found \"sometimes\"");
  expect_error(one_entry(R"("error_occurred": "yes", )" + kTimes),
               "run.json: field benchmarks[0].error_occurred: expected boolean, found string");
  expect_error(one_entry(R"("error_occurred": true, "error_message": 7)"),
               "run.json: field benchmarks[0].error_message: expected string, found number");
  expect_error(one_entry(R"("run_name": [], )" + kTimes),
               "run.json: field benchmarks[0].run_name: expected string, found array");
  expect_error(one_entry(kTimes, R"({"loopbench_reference": 1})"),
               "run.json: field context.loopbench_reference: expected string, found number");
  expect_error(one_entry(kTimes, R"({"loopbench_build_type": 3})"),
               "run.json: field context.loopbench_build_type: expected string, found number");
  expect_error(one_entry(kTimes, R"({"cpu_scaling_enabled": "no"})"),
               "run.json: field context.cpu_scaling_enabled: expected boolean, found string");
  expect_error(one_entry(kTimes, R"({"virtual_time_backends": null})"),
               "run.json: field context.virtual_time_backends: expected string, found null");
}

TEST(BenchReader, TimesMustBeFiniteAndNotNegative) {
  expect_error(one_entry(R"("time_unit": "ns", "real_time": NaN, "cpu_time": 1)"),
               "run.json: field benchmarks[0].real_time: expected number, found NaN");
  expect_error(one_entry(R"("time_unit": "ns", "real_time": 1, "cpu_time": -Infinity)"),
               "run.json: field benchmarks[0].cpu_time: expected number, found -Infinity");
  expect_error(one_entry(R"("time_unit": "ns", "real_time": -5, "cpu_time": 1)"),
               "run.json: field benchmarks[0].real_time: expected a time >= 0, found -5");
  // Finite in seconds, beyond a double in nanoseconds.
  expect_error(one_entry(R"("time_unit": "s", "real_time": 1e300, "cpu_time": 1)"),
               "run.json: field benchmarks[0].real_time: expected a time >= 0, found 1e+300");
  expect_error(one_entry(R"("time_unit": "ns", "real_time": 1e400, "cpu_time": 1)"),
               "run.json: field benchmarks[0].real_time: number overflow parsing '1e400' "
               "(beyond the range of a double)");
  expect_error(one_entry(R"("time_unit": "fortnights", "real_time": 1, "cpu_time": 1)"),
               "run.json: field benchmarks[0].time_unit: unknown time unit \"fortnights\" "
               "(valid: ns, us, ms, s)");
}

TEST(BenchReader, NaNCountersAreSkippedNotRefused) {
  const reports::RunFile run =
      reports::parse_run_file("run.json", one_entry(kTimes + R"(, "p99_ns": NaN, "samples": 3)"));
  ASSERT_EQ(run.benchmarks.size(), 1u);
  EXPECT_EQ(run.benchmarks[0].counters.count("p99_ns"), 0u);
  EXPECT_EQ(run.benchmarks[0].counters.at("samples"), std::vector<double>{3});
}

TEST(BenchReader, AFileOfAggregatesOnlyIsRefusedWithTheFlagToDrop) {
  const std::string aggregate =
      R"({"name": "gather/epoll/n=1_mean", "run_name": "gather/epoll/n=1", )"
      R"("run_type": "aggregate", "aggregate_name": "mean", )" +
      kTimes + "}";
  const std::string message = bench_error(R"({"context": {}, "benchmarks": [)" + aggregate + "]}");
  EXPECT_NE(message.find("\"gather/epoll/n=1\" has aggregates only"), std::string::npos) << message;
  EXPECT_NE(message.find("rerun without --benchmark_report_aggregates_only"), std::string::npos);
  // With its repetitions beside them, the aggregates are simply skipped.
  const std::string repetition =
      R"({"name": "gather/epoll/n=1", "run_type": "iteration", )" + kTimes + "}";
  const reports::RunFile run = reports::parse_run_file(
      "run.json", R"({"context": {}, "benchmarks": [)" + repetition + "," + aggregate + "]}");
  ASSERT_EQ(run.benchmarks.size(), 1u);
  EXPECT_EQ(run.benchmarks[0].real_ns.size(), 1u);
}

TEST(BenchReader, NoBenchmarkAtAllIsRefused) {
  expect_error(R"({"context": {}, "benchmarks": []})",
               "run.json: field benchmarks: empty: no benchmark ran (a filter that matched none?)");
}

TEST(BenchReader, NotJsonSaysWhereItStopped) {
  const std::string message = bench_error(R"({"context": {}, "benchmarks": [{"name": "a", )");
  EXPECT_EQ(message.rfind("run.json: field benchmarks[0]: not JSON: parse error at line 1", 0), 0u)
      << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

std::string nested(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(BenchReader, DeepNestingIsRefusedBeforeAnythingCopiesIt) {
  // 200,000 levels once overflowed the stack when the context was copied.
  for (const std::size_t depth : {std::size_t{65}, std::size_t{200'000}}) {
    const std::string message =
        bench_error(R"({"context": {"deep": )" + nested(depth) + R"(}, "benchmarks": []})");
    EXPECT_NE(message.find("nested more than 64 levels deep"), std::string::npos) << message;
  }
  // 64 levels are read: the top level, the context and 62 arrays.
  EXPECT_EQ(bench_error(R"({"context": {"deep": )" + nested(62) + R"(}, "benchmarks": []})"),
            "run.json: field benchmarks: empty: no benchmark ran (a filter that matched none?)");
}

// A scratch folder per test, removed afterwards.
class ReaderFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("reader_files_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string load_error(const std::string& path) {
    try {
      reports::load_run_file(path);
    } catch (const reports::InputError& e) {
      return e.what();
    }
    return "accepted";
  }

  fs::path dir_;
};

TEST_F(ReaderFiles, OnlyRegularFilesAreRead) {
  EXPECT_EQ(load_error(dir_.string()), dir_.string() + ": is a directory, not a file to read");
  const fs::path fifo = dir_ / "fifo.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opening a FIFO to read would wait for a writer: it is refused unopened for reading.
  EXPECT_EQ(load_error(fifo.string()),
            fifo.string() + ": is a FIFO (named pipe), not a file to read");
  EXPECT_EQ(load_error("/dev/zero"), "/dev/zero: is a character device, not a file to read");
  EXPECT_EQ(load_error((dir_ / "missing.json").string()),
            (dir_ / "missing.json").string() + ": cannot open: No such file or directory");
}

TEST_F(ReaderFiles, AFileBeyondTheLimitIsRefusedUnread) {
  const fs::path huge = dir_ / "huge.json";
  std::ofstream(huge).put('{');
  fs::resize_file(huge, reports::kMaxInputBytes + 1);  // Sparse: no disk space taken.
  EXPECT_EQ(load_error(huge.string()),
            huge.string() +
                ": is larger than 256 MiB, the most a report or comparison reads "
                "from one file");
}

TEST_F(ReaderFiles, ControlCharactersInAFileNameAreEscaped) {
  const fs::path odd = dir_ / "two\nlines.json";
  const std::string message = load_error(odd.string());
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find("two\\x0alines.json"), std::string::npos) << message;
}

TEST(MatrixReader, RefusesUnknownResultsAndEmptyMatrices) {
  const auto error = [](const std::string& text) -> std::string {
    try {
      reports::parse_conformance("matrix.json", text);
    } catch (const reports::InputError& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_EQ(error(R"({"rows": []})"), "matrix.json: field rows: empty: the matrix has no results");
  EXPECT_EQ(error(R"({"rows": [{"backend": "epoll", "rule": "X-1", "result": "maybe", )"
                  R"("reason": ""}]})"),
            "matrix.json: field rows[0].result: expected pass, fail, compat or skip, found "
            "\"maybe\"");
  EXPECT_EQ(error(R"({"rows": [7]})"), "matrix.json: field rows[0]: expected object, found number");
  EXPECT_EQ(error("[]"), "matrix.json: top level: expected object, found array");
  const std::string row = R"("rows": [{"backend": "epoll", "rule": "X-1", "result": "pass",
    "reason": ""}])";
  EXPECT_EQ(error(R"({"tests": 3, )" + row + "}"),
            "matrix.json: field tests: expected object, found number");
  EXPECT_EQ(error(R"({"tests": {"run": 2, "passed": 1, "skipped": -1, "failed": 0}, )" + row + "}"),
            "matrix.json: field tests.skipped: missing or not a count");
  EXPECT_EQ(error(R"({"tests": {"run": 2, "passed": 2, "skipped": 0}, )" + row + "}"),
            "matrix.json: field tests.failed: missing or not a count");
  const auto matrix = reports::parse_conformance(
      "matrix.json",
      R"({"tests": {"run": 2, "passed": 1, "skipped": 1, "failed": 0}, )" + row + "}");
  ASSERT_TRUE(matrix.tests.has_value());
  EXPECT_EQ(matrix.tests->skipped, 1);
  EXPECT_FALSE(reports::parse_conformance("matrix.json", "{" + row + "}").tests.has_value());
}

TEST(Readers, FileNamesThatAreNotUtf8ReachThePage) {
  // Two runs label their rows with their file names, which the page embeds as JSON.
  reports::ReportInput input;
  input.runs.push_back(
      reports::load_run_file(std::string(LOOPBENCH_REPORT_FIXTURES) + "/aa_base.json"));
  input.runs.push_back(input.runs.front());
  input.runs.back().path = "bad\xff\xfe.json";
  const std::string html = reports::make_html(input, reports::PageAssets{});
  EXPECT_NE(html.find("bad\xef\xbf\xbd\xef\xbf\xbd"), std::string::npos);  // U+FFFD twice.
}

// Every input in fuzz-regressions/ once crashed a reader or what reads its
// result; each must now be refused or accepted, and nothing else.
void replay(const std::string& folder, bool (*exercise)(const std::string&)) {
  const fs::path dir = fs::path(LOOPBENCH_FUZZ_REGRESSIONS) / folder;
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().string());
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    EXPECT_NO_THROW(exercise(text));
    ++count;
  }
  EXPECT_GT(count, 0u) << dir;
}

TEST(FuzzRegressions, BenchJsonInputsThatOnceCrashed) {
  replay("bench_json", &reports::fuzz::exercise_bench_json);
}

TEST(FuzzRegressions, ConformanceMatrixInputsThatOnceCrashed) {
  replay("conformance_matrix", &reports::fuzz::exercise_conformance_matrix);
}

}  // namespace
