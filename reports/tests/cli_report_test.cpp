// `loopbench compare` and `loopbench report` run as separate processes, as CI
// runs them: exit codes (0 no regression, 1 regression, 2 bad input), the
// one-line errors, and the files the report writes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "reports/report.hpp"

namespace {

const std::string kFixtures = LOOPBENCH_REPORT_FIXTURES;

struct CliResult {
  int exit_code = -1;
  std::string stdout_text;
  std::string stderr_text;
};

// `loopbench <args>`; stdout through a pipe, stderr through a scratch file.
CliResult loopbench(const std::string& args) {
  const std::filesystem::path err =
      std::filesystem::path(::testing::TempDir()) / ("report_cli_" + std::to_string(::getpid()));
  const std::string command = std::string(LOOPBENCH_CLI_PATH) + " " + args + " 2>" + err.string();
  CliResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) {
    result.stdout_text.append(buffer, got);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err);
  std::ostringstream text;
  text << in.rdbuf();
  result.stderr_text = text.str();
  std::filesystem::remove(err);
  return result;
}

std::string fixture(const std::string& name) {
  return kFixtures + "/" + name;
}

// How many rows of a compare table end in (or continue after) `verdict`;
// the summary line above the table is not a row.
int rows_with(const std::string& table, const std::string& verdict) {
  int rows = 0;
  std::istringstream lines(table);
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    if (line.find("  " + verdict) != std::string::npos) ++rows;
  }
  return rows;
}

TEST(CompareCommand, SameDistributionExitsZero) {
  const CliResult result =
      loopbench("compare " + fixture("aa_base.json") + " " + fixture("aa_new.json"));
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(rows_with(result.stdout_text, "SLOWER"), 0) << result.stdout_text;
  EXPECT_EQ(rows_with(result.stdout_text, "no change"), 6) << result.stdout_text;
}

TEST(CompareCommand, RegressionExitsOneWithMarkdown) {
  const CliResult result = loopbench("compare --markdown " + fixture("aa_base.json") + " " +
                                     fixture("shift10_new.json"));
  EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("| callback_chain/epoll/n=1000/manual_time |"),
            std::string::npos)
      << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("| SLOWER |"), std::string::npos) << result.stdout_text;
}

// What BASE ran and NEW did not fails the gate: missing, failed or timed out.
TEST(CompareCommand, MissingOrFailedInNewExitsOne) {
  const CliResult missing =
      loopbench("compare " + fixture("aa_base.json") + " " + fixture("mismatched_new.json"));
  EXPECT_EQ(missing.exit_code, 1) << missing.stderr_text;
  EXPECT_EQ(rows_with(missing.stdout_text, "MISSING in new"), 1) << missing.stdout_text;
  const CliResult failed =
      loopbench("compare " + fixture("aa_base.json") + " " + fixture("failed_new.json"));
  EXPECT_EQ(failed.exit_code, 1) << failed.stderr_text;
  EXPECT_EQ(rows_with(failed.stdout_text, "FAILED in new (new: timeout"), 1) << failed.stdout_text;
  // The other way round nothing regressed: what only NEW has, or what failed in BASE.
  EXPECT_EQ(loopbench("compare " + fixture("mismatched_new.json") + " " + fixture("aa_base.json"))
                .exit_code,
            0);
  EXPECT_EQ(
      loopbench("compare " + fixture("failed_new.json") + " " + fixture("aa_base.json")).exit_code,
      0);
}

// Six files (processes) of a side from fixtures/processes/, for a command line.
std::string processes(const std::string& prefix) {
  std::string files;
  for (int index = 1; index <= 6; ++index) {
    // Appended piece by piece: g++ 12 warns (-Wrestrict) on " " + a temporary.
    files += ' ';
    files += fixture("processes/" + prefix + "-" + std::to_string(index) + ".json");
  }
  return files;
}

TEST(CompareCommand, SeveralProcessesPerSide) {
  const CliResult same = loopbench("compare" + processes("base") + " --vs" + processes("aa-new"));
  EXPECT_EQ(same.exit_code, 0) << same.stderr_text;
  EXPECT_EQ(same.stderr_text, "");
  EXPECT_EQ(rows_with(same.stdout_text, "SLOWER"), 0) << same.stdout_text;
  EXPECT_NE(same.stdout_text.find("6x3/6x3"), std::string::npos) << same.stdout_text;
  const CliResult slowed =
      loopbench("compare" + processes("base") + " --vs" + processes("shift10-new"));
  EXPECT_EQ(slowed.exit_code, 1) << slowed.stderr_text;
  EXPECT_EQ(rows_with(slowed.stdout_text, "SLOWER"), 1) << slowed.stdout_text;
  const CliResult on_cpu =
      loopbench("compare --clock cpu" + processes("base") + " --vs" + processes("shift10-new"));
  EXPECT_EQ(on_cpu.exit_code, 1) << on_cpu.stderr_text;
  EXPECT_EQ(on_cpu.stdout_text.rfind("3 benchmarks on CPU time: 1 SLOWER", 0), 0u)
      << on_cpu.stdout_text;
}

// Three processes per side can never reach p < 0.05: every row says so, one
// warning line on stderr says why, and nothing fails.
TEST(CompareCommand, ASetUpThatCannotFlagWarnsOnce) {
  const std::string base = fixture("processes/base-1.json") + " " +
                           fixture("processes/base-2.json") + " " +
                           fixture("processes/base-3.json");
  const std::string slowed = fixture("processes/shift10-new-1.json") + " " +
                             fixture("processes/shift10-new-2.json") + " " +
                             fixture("processes/shift10-new-3.json");
  const CliResult result = loopbench("compare " + base + " --vs " + slowed);
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(rows_with(result.stdout_text, "cannot flag"), 3) << result.stdout_text;
  EXPECT_EQ(result.stderr_text,
            "loopbench: compare: warning: 3 of 3 benchmarks cannot be flagged: 3 vs 3 samples "
            "cannot reach p < 0.05 (the smallest possible p is 0.100); use at least 4 processes "
            "per side\n");
}

// The confirmation step as gate.sh runs it: the first comparison writes the
// filter of what came out slower; the same comparison with a second
// measurement of those benchmarks fails only if they are slower there too.
TEST(CompareCommand, ASlowerVerdictIsConfirmedOnASecondMeasurement) {
  const std::filesystem::path filter =
      std::filesystem::path(::testing::TempDir()) / ("slower_" + std::to_string(::getpid()));
  const std::string first = "compare" + processes("base") + " --vs" + processes("shift10-new");
  EXPECT_EQ(loopbench(first + " --slower-filter " + filter.string()).exit_code, 1);
  std::ifstream in(filter);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "^(callback_chain/epoll/n=1000/manual_time)$");
  std::filesystem::remove(filter);

  const CliResult refuted = loopbench(first + " --confirm-base" + processes("base") +
                                      " --confirm-new" + processes("aa-new"));
  EXPECT_EQ(refuted.exit_code, 0) << refuted.stderr_text;
  EXPECT_EQ(rows_with(refuted.stdout_text, "not confirmed (re-run: no change"), 1)
      << refuted.stdout_text;
  const CliResult upheld = loopbench(first + " --confirm-base" + processes("base") +
                                     " --confirm-new" + processes("shift10-new"));
  EXPECT_EQ(upheld.exit_code, 1) << upheld.stderr_text;
  EXPECT_EQ(rows_with(upheld.stdout_text, "SLOWER (re-run: SLOWER"), 1) << upheld.stdout_text;

  // Nothing slower: the filter is an empty line.
  EXPECT_EQ(loopbench("compare" + processes("base") + " --vs" + processes("aa-new") +
                      " --slower-filter " + filter.string())
                .exit_code,
            0);
  std::ifstream empty(filter);
  std::getline(empty, line);
  EXPECT_EQ(line, "");
  std::filesystem::remove(filter);
}

TEST(CompareCommand, InstructionCountsUseTheirOwnThreshold) {
  const std::string files =
      fixture("instructions/base.json") + " " + fixture("instructions/plus2-new.json");
  const CliResult flagged = loopbench("compare " + files);
  EXPECT_EQ(flagged.exit_code, 1) << flagged.stderr_text;
  EXPECT_EQ(flagged.stderr_text, "");  // One file per side is right for counts.
  EXPECT_EQ(rows_with(flagged.stdout_text, "SLOWER"), 1) << flagged.stdout_text;
  EXPECT_EQ(loopbench("compare --count-threshold 0.03 " + files).exit_code, 0);
}

// Bad input: exit 2, nothing on stdout, one line naming every `expected`.
void expect_bad_input(const std::string& args, const std::vector<std::string>& expected) {
  SCOPED_TRACE("loopbench " + args);
  const CliResult result = loopbench(args);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.stdout_text, "");
  EXPECT_EQ(std::count(result.stderr_text.begin(), result.stderr_text.end(), '\n'), 1)
      << result.stderr_text;
  for (const auto& word : expected) {
    EXPECT_NE(result.stderr_text.find(word), std::string::npos) << result.stderr_text;
  }
}

TEST(CompareCommand, BadInputExitsTwoWithOneLine) {
  expect_bad_input("compare " + fixture("aa_base.json") + " " + fixture("truncated.json"),
                   {"truncated.json", "not JSON"});
  expect_bad_input("compare " + fixture("wrong_type.json") + " " + fixture("aa_new.json"),
                   {"wrong_type.json", "benchmarks[3].real_time"});
  expect_bad_input("compare " + fixture("aa_base.json") + " " + fixture("python_reference.json"),
                   {"python_reference.json", "no benchmark name in common"});
  expect_bad_input("compare " + fixture("aa_base.json"), {"expected two files", "--vs"});
  expect_bad_input("compare " + fixture("aa_base.json") + " " + fixture("aa_new.json") + " " +
                       fixture("shift10_new.json"),
                   {"expected two files"});
  expect_bad_input("compare --vs " + fixture("aa_new.json"), {"base files before --vs"});
  expect_bad_input("compare" + processes("base") + " --vs " + fixture("aa_new.json") + " " +
                       fixture("truncated.json"),
                   {"truncated.json", "not JSON"});
  expect_bad_input(
      "compare --threshold 2 " + fixture("aa_base.json") + " " + fixture("aa_new.json"),
      {"--threshold"});
  expect_bad_input(
      "compare --disturbed -1 " + fixture("aa_base.json") + " " + fixture("aa_new.json"),
      {"--disturbed"});
  expect_bad_input(
      "compare --count-threshold 0 " + fixture("aa_base.json") + " " + fixture("aa_new.json"),
      {"--count-threshold"});
  expect_bad_input(
      "compare --clock sundial " + fixture("aa_base.json") + " " + fixture("aa_new.json"),
      {"--clock", "sundial"});
  expect_bad_input("compare " + fixture("aa_base.json") + " " + fixture("aa_new.json") +
                       " --confirm-base " + fixture("aa_base.json"),
                   {"--confirm-base and --confirm-new go together"});
  expect_bad_input(
      "compare " + fixture("instructions/base.json") + " " + fixture("aa_new.json"),
      {"aa_new.json", "context.loopbench_mode", "instructions/base.json measured instructions"});
  expect_bad_input("compare" + processes("base") + " --vs" + processes("shift10-new") +
                       " --confirm-base " + fixture("instructions/base.json") + " --confirm-new " +
                       fixture("instructions/plus2-new.json"),
                   {"instructions/base.json", "must be of time"});
}

TEST(ReportCommand, WritesTheCsvAndThePage) {
  const std::filesystem::path out =
      std::filesystem::path(::testing::TempDir()) / ("report_out_" + std::to_string(::getpid()));
  const CliResult result =
      loopbench("report " + fixture("aa_base.json") + " " + fixture("python_reference.json") +
                " --conformance " + fixture("matrix.json") + " --rules " + fixture("rules.md") +
                " --out " + out.string());
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find((out / "index.html").string()), std::string::npos);
  EXPECT_GT(std::filesystem::file_size(out / "index.html"), 500'000u);  // The libraries inlined.
  EXPECT_GT(std::filesystem::file_size(out / "report.csv"), 0u);
  std::filesystem::remove_all(out);
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ReportCommand, AnExistingReportIsReplacedOnlyWithForce) {
  const std::filesystem::path out =
      std::filesystem::path(::testing::TempDir()) / ("report_again_" + std::to_string(::getpid()));
  std::filesystem::create_directories(out);
  std::ofstream(out / "report.csv") << "an earlier report";
  expect_bad_input("report " + fixture("aa_base.json") + " --out " + out.string(),
                   {(out / "report.csv").string(), "exists", "--force"});
  EXPECT_EQ(read_text(out / "report.csv"), "an earlier report");
  EXPECT_FALSE(std::filesystem::exists(out / "index.html"));

  const CliResult forced =
      loopbench("report " + fixture("aa_base.json") + " --out " + out.string() + " --force");
  EXPECT_EQ(forced.exit_code, 0) << forced.stderr_text;
  EXPECT_EQ(read_text(out / "report.csv").rfind(reports::csv_header, 0), 0u);
  // Nothing is left under a temporary name.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(out)) ++files;
  EXPECT_EQ(files, 2u);
  std::filesystem::remove_all(out);
}

// --label names the files in their order; the CSV's rows carry the names.
TEST(ReportCommand, LabelsNameTheRuns) {
  const std::filesystem::path out =
      std::filesystem::path(::testing::TempDir()) / ("report_labels_" + std::to_string(::getpid()));
  const CliResult result =
      loopbench("report " + fixture("aa_base.json") + " " + fixture("shift10_new.json") +
                " --label before --label after --out " + out.string() + " --force");
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  const std::string csv = read_text(out / "report.csv");
  EXPECT_NE(csv.find("\nbefore,fixture-host,aa_base,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nafter,fixture-host,shift10_new,"), std::string::npos) << csv;
  std::filesystem::remove_all(out);
  expect_bad_input(
      "report " + fixture("aa_base.json") + " --label a --label b --out " + out.string(),
      {"more labels (2) than files (1)"});
  expect_bad_input("report " + fixture("aa_base.json") + " " + fixture("aa_new.json") +
                       " --label same --label same --out " + out.string(),
                   {"'same' names two files"});
}

TEST(ReportCommand, BadMatrixExitsTwo) {
  expect_bad_input("report " + fixture("aa_base.json") + " --conformance " +
                       fixture("aa_base.json") + " --out " + ::testing::TempDir(),
                   {"aa_base.json", "rows"});
  expect_bad_input("report", {"expected one or more"});
}

}  // namespace
