// The loopbench command line, run as a separate process: outputs, exit codes
// (0 ok, 1 a run failed or timed out, 2 bad input) and one-line errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "loops/loops.hpp"
#include "scenarios/scenario.hpp"

namespace {

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// Runs `loopbench <args>` (arguments are simple words: no quoting needed).
Outcome loopbench(const std::string& args) {
  const std::string base = ::testing::TempDir() + "loopbench_cli_" + std::to_string(::getpid());
  const std::string command =
      std::string(LOOPBENCH_CLI_PATH) + " " + args + " >" + base + ".out 2>" + base + ".err";
  const int status = std::system(command.c_str());
  Outcome outcome;
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  outcome.out = read_file(base + ".out");
  outcome.err = read_file(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return outcome;
}

// Bad input: exit code 2, nothing on stdout, exactly one line on stderr
// that contains every one of `expected`.
void expect_usage_error(const std::string& args, const std::vector<std::string>& expected) {
  SCOPED_TRACE("loopbench " + args);
  const Outcome outcome = loopbench(args);
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_EQ(outcome.out, "");
  const auto err_lines = lines_of(outcome.err);
  ASSERT_EQ(err_lines.size(), 1U) << outcome.err;
  EXPECT_EQ(err_lines[0].rfind("loopbench: ", 0), 0U) << err_lines[0];
  for (const auto& part : expected) {
    EXPECT_NE(err_lines[0].find(part), std::string::npos) << err_lines[0] << " lacks " << part;
  }
}

TEST(Cli, ListShowsBackendsAndScenariosWithParameters) {
  const Outcome outcome = loopbench("list");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  for (const auto& entry : loops::registered_backends()) {
    EXPECT_NE(outcome.out.find(entry.name), std::string::npos) << entry.name;
  }
  for (const char* text : {"available", "parallel_sleeps", "callback_chain", "n=1000",
                           "deadline=30s", "fixed|naive", "bounded|join_at|unbounded"}) {
    EXPECT_NE(outcome.out.find(text), std::string::npos) << text;
  }
}

TEST(Cli, ListJsonGivesEachBackendsTraits) {
  const Outcome outcome = loopbench("list --json");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  const auto listing = nlohmann::json::parse(outcome.out);
  const auto& entries = loops::registered_backends();
  ASSERT_EQ(listing["backends"].size(), entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& backend = listing["backends"][i];
    EXPECT_EQ(backend["name"], entries[i].name);
    if (!backend["available"]) {
      EXPECT_TRUE(backend["reason"].is_string());
      continue;
    }
    const loops::BackendTraits traits = entries[i].create()->traits();
    EXPECT_EQ(backend["traits"]["real_time"], traits.real_time) << entries[i].name;
    EXPECT_EQ(backend["traits"]["threads"], traits.threads) << entries[i].name;
    EXPECT_EQ(backend["traits"]["io"], traits.io) << entries[i].name;
    EXPECT_EQ(backend["traits"]["completion_io"], traits.completion_io) << entries[i].name;
  }
  EXPECT_EQ(listing["scenarios"].size(), scenarios::all().size());
}

TEST(Cli, ListJsonDescribesEachScenario) {
  const Outcome outcome = loopbench("list --json");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  const auto listing = nlohmann::json::parse(outcome.out);
  ASSERT_EQ(listing["scenarios"].size(), scenarios::all().size());
  const auto& sleeps = listing["scenarios"][0];
  EXPECT_EQ(sleeps["name"], "parallel_sleeps");
  EXPECT_EQ(sleeps["params"][0], nlohmann::json({{"name", "n"},
                                                 {"type", "integer"},
                                                 {"help", "number of sleeping tasks"},
                                                 {"default", 1000},
                                                 {"default_text", "1000"},
                                                 {"min", 1},
                                                 {"max", 10'000'000}}));
  EXPECT_EQ(sleeps["params"][1]["default"], 1'000'000);  // Durations in nanoseconds.
  EXPECT_EQ(sleeps["size_param"], "n");
  EXPECT_EQ(sleeps["items_metric"], "tasks");
  EXPECT_EQ(sleeps["sleep_param"], "duration");
  EXPECT_TRUE(sleeps["latency_is_lateness"]);
  EXPECT_EQ(sleeps["metrics"][2], nlohmann::json({{"name", "loop_elapsed_ns"}, {"unit", "ns"}}));
  EXPECT_EQ(sleeps["bench_sets"][1], nlohmann::json({{"assignments", {"n=1000000", "duration=1s"}},
                                                     {"large", true},
                                                     {"baselines", true},
                                                     {"repeatability", "on_virtual_time_only"}}));
  const auto& stop_race = listing["scenarios"][2];
  EXPECT_EQ(stop_race["params"][0]["choices"], nlohmann::json({"fixed", "naive", "same_batch"}));
  EXPECT_TRUE(stop_race["size_param"].is_null());
  EXPECT_TRUE(stop_race["items_metric"].is_null());
}

TEST(Cli, RunPrintsTheTraceForHumans) {
  const Outcome outcome = loopbench("run stop_race --backend sim --set variant=naive --trace");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_NE(outcome.out.find("sim (virtual time): 10 runs after 1 warm-up\n"), std::string::npos)
      << outcome.out;
  EXPECT_NE(outcome.out.find("    pending b\n"), std::string::npos) << outcome.out;
}

// Several backends in one --backend, each run warm and repeated, summed up
// per backend in readable units, then compared.
TEST(Cli, RunSumsUpRepeatedRunsPerBackendAndComparesThem) {
  const Outcome outcome =
      loopbench("run sleep_precision -b epoll,sim --repetitions 3 --set n=5 --set duration=2ms -q");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out.rfind("sleep_precision n=5 duration=2ms deadline=30s: 3 runs per backend "
                              "after 1 warm-up\n",
                              0),
            0U)
      << outcome.out;
  for (const char* text :
       {"\nepoll: 3 runs after 1 warm-up\n  time per run  ", " (median ± MAD), range ",
        "\nsim (virtual time): 3 runs after 1 warm-up\n", "  metrics       early_wakeups 0, ",
        "  latency       15 samples: min ", "(each wake-up's overshoot"}) {
    EXPECT_NE(outcome.out.find(text), std::string::npos) << outcome.out << "lacks " << text;
  }
  // Five sleeps of 2 ms take about 10 ms: in ms, never in raw nanoseconds.
  EXPECT_NE(outcome.out.find(" ms ± "), std::string::npos) << outcome.out;
  EXPECT_EQ(outcome.out.find("p50="), std::string::npos) << outcome.out;
  // One backend on a real clock: nothing to compare with.
  EXPECT_EQ(outcome.out.find("Summary"), std::string::npos) << outcome.out;

  const Outcome two = loopbench("run callback_chain -b epoll,asio -r 3 --set n=1000 -q");
  EXPECT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.out.find("\nSummary (median time per run)\n  "), std::string::npos) << two.out;
  EXPECT_NE(two.out.find(" times faster than "), std::string::npos) << two.out;
}

// --json: one line per backend, the last run's result as before, plus every
// counted run's figures and their summary.
TEST(Cli, JsonCarriesEveryCountedRunAndTheSummary) {
  const Outcome outcome =
      loopbench("run gather -b sim,epoll --repetitions 4 --warmup 2 --set n=100 --json -q");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  const auto lines = lines_of(outcome.out);
  ASSERT_EQ(lines.size(), 2U) << outcome.out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto json = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(json["backend"], i == 0 ? "sim" : "epoll");
    EXPECT_EQ(json["status"], "ok");
    EXPECT_EQ(json["warmup_runs"], 2);
    ASSERT_EQ(json["runs"].size(), 4U);
    EXPECT_EQ(json["runs"][3]["wall_ns"], json["wall_ns"]);  // The last run is the one shown.
    EXPECT_EQ(json["runs"][0]["metrics"]["tasks"], 100);
    EXPECT_EQ(json["summary"]["runs"], 4);
    const auto& time = json["summary"]["wall_ns"];
    EXPECT_LE(time["min"].get<double>(), time["median"].get<double>());
    EXPECT_LE(time["median"].get<double>(), time["max"].get<double>());
    EXPECT_EQ(json["summary"]["latency_ns"]["count"], 0);
  }
}

TEST(Cli, JsonIsOneLinePerBackend) {
  const Outcome outcome =
      loopbench("run parallel_sleeps --backend all --json -s n=4 -s duration=20ms -q");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  const auto lines = lines_of(outcome.out);
  const auto available = loops::available_backend_names();
  ASSERT_EQ(lines.size(), available.size()) << outcome.out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto json = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(json["scenario"], "parallel_sleeps");
    EXPECT_EQ(json["backend"], available[i]);
    EXPECT_EQ(json["params"]["duration"], "20ms");
    EXPECT_EQ(json["status"], "ok");
    EXPECT_EQ(json["latency_ns"]["count"], 4);
    EXPECT_EQ(json["trace"].size(), 8U);
  }
}

TEST(Cli, ATimeoutExitsWithOne) {
  const Outcome outcome =
      loopbench("run parallel_sleeps --backend sim --json --set duration=1h --set deadline=10ms");
  EXPECT_EQ(outcome.exit_code, 1);
  const auto json = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(json["status"], "timeout");
  EXPECT_EQ(json["error"], "deadline of 10ms passed");
}

// A backend that cannot run the scenario at all (sim has no sockets) is
// skipped under --backend all, and refused when named.
TEST(Cli, ABackendThatCannotRunTheScenarioIsSkippedUnderAll) {
  const Outcome all = loopbench("run tcp_echo --json -q --set m=10");
  EXPECT_EQ(all.exit_code, 0) << all.err;
  std::size_t able = 0;
  for (const auto& name : loops::available_backend_names()) {
    const auto loop = loops::make_loop(name);
    if (loop->backend().traits().io) {
      ++able;
    } else {
      EXPECT_NE(
          all.err.find("skipping tcp_echo on " + name + ": backend " + name + " has no socket I/O"),
          std::string::npos)
          << all.err;
    }
    loop->close();
  }
  EXPECT_EQ(lines_of(all.out).size(), able) << all.out;
  expect_usage_error("run tcp_echo --backend sim",
                     {"tcp_echo cannot run on sim", "no socket I/O", "backends that can: epoll"});
  expect_usage_error("run threadsafe_pingpong --backend sim",
                     {"threadsafe_pingpong cannot run on sim", "needs real threads"});
}

TEST(Cli, BadInputIsOneLineAndExitCodeTwo) {
  expect_usage_error("run nope", {"unknown scenario 'nope'", "parallel_sleeps", "callback_chain"});
  expect_usage_error("run stop_race --backend nope", {"unknown backend 'nope'", "sim", "all"});
  expect_usage_error("run stop_race --set bogus=1",
                     {"stop_race", "unknown parameter 'bogus'", "variant, sleep_a"});
  expect_usage_error("run stop_race --set variant=clever",
                     {"bad value 'clever' for variant", "fixed|naive"});
  expect_usage_error("run parallel_sleeps --set n=abc", {"bad value 'abc' for n", "1..10000000"});
  expect_usage_error("run parallel_sleeps --set duration=5", {"bad value '5' for duration"});
  expect_usage_error("run parallel_sleeps --set n", {"bad assignment 'n'", "n, duration"});
  expect_usage_error("run gather --set mode=tree --set depth=24 --set branching=100",
                     {"depth=24 branching=100"});
  expect_usage_error("frobnicate", {"unknown command 'frobnicate'", "list, run"});
  expect_usage_error("", {"expected a command", "list", "run"});
  expect_usage_error("run stop_race --frobnicate", {"--frobnicate", "--backend", "--set"});
  expect_usage_error("run", {"expected a scenario", "parallel_sleeps", "callback_chain"});
  expect_usage_error("--frobnicate", {"--frobnicate", "list, run"});
  expect_usage_error("run stop_race --backend", {"--backend"});
  expect_usage_error("run stop_race -b epoll,nosuch", {"unknown backend 'nosuch'", "sim", "all"});
  expect_usage_error("run stop_race -b epoll,epoll", {"backend 'epoll' is named twice"});
  expect_usage_error("run stop_race -b epoll,", {"bad backend list 'epoll,'", "uv,asio"});
  expect_usage_error("run stop_race -b all,epoll", {"bad backend list", "all alone"});
  expect_usage_error("run stop_race --repetitions 0", {"--repetitions must be from 1 to", "got 0"});
  expect_usage_error("run stop_race -r 100001", {"--repetitions must be from 1 to 100000"});
  expect_usage_error("run stop_race --repetitions many", {"--repetitions", "many"});
  expect_usage_error("run stop_race --warmup -1", {"--warmup must be from 0 to", "got -1"});
  expect_usage_error("run tcp_echo -b sim,sim", {"named twice"});
}

// In a list, as under all, a backend that cannot run the scenario is
// skipped; when none can, that is bad input.
TEST(Cli, ABackendListSkipsWhatCannotRunTheScenario) {
  const Outcome outcome = loopbench("run tcp_echo -b sim,epoll -r 1 --set m=10 --json -q");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_NE(outcome.err.find("skipping tcp_echo on sim: backend sim has no socket I/O"),
            std::string::npos)
      << outcome.err;
  ASSERT_EQ(lines_of(outcome.out).size(), 1U) << outcome.out;
  EXPECT_EQ(nlohmann::json::parse(outcome.out)["backend"], "epoll");
}

TEST(Cli, HelpEverywhere) {
  for (const char* args : {"--help", "run --help", "list --help"}) {
    SCOPED_TRACE(args);
    const Outcome outcome = loopbench(args);
    EXPECT_EQ(outcome.exit_code, 0);
    EXPECT_NE(outcome.out.find("Usage"), std::string::npos) << outcome.out;
  }
  EXPECT_NE(loopbench("run --help").out.find("--backend"), std::string::npos);
}

}  // namespace
