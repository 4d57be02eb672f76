#include "instructions.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>
#include <utility>

#include "scenarios/scenario.hpp"

namespace loopbench::bench {
namespace {

// A fixed cache model, whatever the host's: Callgrind otherwise copies the
// host CPU's caches, and two CI machines would estimate different cycles.
// 32 KiB 8-way L1 caches and an 8 MiB 16-way last level, 64-byte lines.
const char* const kCacheModel[] = {"--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64"};

std::string g_dump_file;  // Set in the process under Callgrind.
int g_dumps = 0;          // Callgrind numbers its dumps FILE.1, FILE.2, ...

bool g_counted_registration = false;
volatile sig_atomic_t g_child = 0;

// The launcher passes an interrupt on to Callgrind (and its client), then
// waits for it to end, so that it can remove its temporary folder.
void forward_signal(int signal_number) {
  if (g_child > 0) ::kill(g_child, signal_number);
}

// Reads a whole file; empty when it cannot.
std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// A --benchmark_filter matching exactly `name`.
std::string exactly(const std::string& name) {
  std::string pattern = "^";
  for (const char c : name) {
    if (std::strchr(".[]{}()\\*+?^$|", c) != nullptr) pattern += '\\';
    pattern += c;
  }
  return pattern + "$";
}

// Runs `command` with immediate binding of every symbol (lazy binding would
// count the dynamic linker's work in the first run that calls a function)
// and returns its exit status; interrupts are passed on to it.
int run_child(std::vector<std::string> command) {
  std::vector<char*> argv;
  for (auto& word : command) argv.push_back(word.data());
  argv.push_back(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    ::setenv("LD_BIND_NOW", "1", 1);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr,
                 "loopbench_bench: --loopbench_instructions needs Valgrind (Debian package "
                 "valgrind): cannot run %s: %s\n",
                 argv[0], std::strerror(errno));
    ::_exit(2);
  }
  if (child < 0) {
    std::fprintf(stderr, "loopbench_bench: cannot start Callgrind: %s\n", std::strerror(errno));
    return 2;
  }
  g_child = child;
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Google Benchmark's JSON output in two parts: everything up to the opening
// of the "benchmarks" array, and the array's entries. Empty when the file is
// not of that shape (the process failed before writing it).
std::pair<std::string, std::string> split_benchmark_json(const std::string& text) {
  const std::string opening = "\"benchmarks\": [";
  const auto begin = text.find(opening);
  const auto end = text.rfind(']');
  if (begin == std::string::npos || end == std::string::npos || end < begin) return {};
  const auto first = begin + opening.size();
  std::string entries = text.substr(first, end - first);
  entries.erase(0, entries.find_first_not_of(" \n"));
  entries.erase(entries.find_last_not_of(" \n") + 1);
  return {text.substr(0, first), entries};
}

// The counts of one dump: Callgrind's "events:" names and "summary:" totals
// (trailing zeros left out).
std::map<std::string, double> read_dump(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "loopbench_bench: cannot read Callgrind's dump %s\n", path.c_str());
    std::exit(1);
  }
  std::vector<std::string> events;
  std::map<std::string, double> counts;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "events:") {
      for (std::string event; words >> event;) events.push_back(event);
    } else if (key == "summary:") {
      double value = 0;
      for (std::size_t i = 0; i < events.size() && words >> value; ++i) counts[events[i]] = value;
    }
  }
  return counts;
}

// Cycles as a simple model prices the accesses: 1 for an L1 hit, 5 for a
// last-level hit, 35 for memory (the weights iai-callgrind and CodSpeed's
// instrumentation use).
double estimated_cycles(std::map<std::string, double>& c) {
  const double accesses = c["Ir"] + c["Dr"] + c["Dw"];
  const double l1_misses = c["I1mr"] + c["D1mr"] + c["D1mw"];
  const double memory = c["ILmr"] + c["DLmr"] + c["DLmw"];
  return (accesses - l1_misses) + 5 * (l1_misses - memory) + 35 * memory;
}

}  // namespace

void register_counted_benchmarks_only() noexcept {
  g_counted_registration = true;
}

bool counted_registration() noexcept {
  return g_counted_registration;
}

bool counts_repeat(const std::string& benchmark_name) {
  std::vector<std::string> parts;
  std::istringstream words(benchmark_name);
  for (std::string part; std::getline(words, part, '/');) parts.push_back(part);
  const bool baseline = !parts.empty() && parts[0] == "baseline";
  if (parts.size() < (baseline ? 4u : 3u)) return false;
  const scenarios::Scenario* scenario = scenarios::find(parts[baseline ? 2 : 0]);
  const std::string& implementation = parts[1];
  // Long and cold runs are not warm CPU work.
  if (scenario == nullptr || benchmark_name.find("/large") != std::string::npos ||
      benchmark_name.find("/cold") != std::string::npos) {
    return false;
  }
  std::vector<std::string> assignments;
  std::istringstream params(parts[baseline ? 3 : 2]);
  for (std::string assignment; std::getline(params, assignment, ',');) {
    if (assignment != "defaults") assignments.push_back(assignment);
  }
  switch (scenario->repeats(scenario->parse(assignments))) {
    case scenarios::Repeatability::exact:
      return true;
    case scenarios::Repeatability::on_virtual_time_only:
      // Only the sim backend runs on virtual time; the baselines wait for real time.
      return !baseline && implementation == "sim";
    case scenarios::Repeatability::never:
      return false;
  }
  return false;
}

int run_under_callgrind(const std::vector<std::string>& args,
                        const std::vector<std::string>& benchmarks) {
  std::string out_file;
  std::vector<std::string> passed;  // The flags every counted process gets.
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (starts_with(arg, "--benchmark_out_format=") && arg != "--benchmark_out_format=json") {
      std::fprintf(stderr, "loopbench_bench: --loopbench_instructions writes JSON only (got %s)\n",
                   arg.c_str());
      return 2;
    }
    if (starts_with(arg, "--benchmark_out=")) {
      out_file = arg.substr(std::strlen("--benchmark_out="));
    } else if (arg != "--loopbench_instructions" && !starts_with(arg, "--benchmark_out_format=") &&
               !starts_with(arg, "--benchmark_filter=") &&
               !starts_with(arg, "--benchmark_format=")) {
      passed.push_back(arg);
    }
  }
  char folder[] = "/tmp/loopbench-callgrind-XXXXXX";
  if (::mkdtemp(folder) == nullptr) {
    std::fprintf(stderr, "loopbench_bench: cannot make a temporary folder: %s\n",
                 std::strerror(errno));
    return 2;
  }
  // Started through a link of the same length whatever the build's folder,
  // so that two builds start with the same stack layout.
  const std::string program = std::string(folder) + "/loopbench_bench";
  std::error_code error;
  std::filesystem::create_symlink(std::filesystem::read_symlink("/proc/self/exe", error), program,
                                  error);
  if (error) {
    std::fprintf(stderr, "loopbench_bench: cannot link %s: %s\n", program.c_str(),
                 error.message().c_str());
    std::filesystem::remove_all(folder, error);
    return 2;
  }
  ::signal(SIGINT, forward_signal);
  ::signal(SIGTERM, forward_signal);
  int result = 0;
  std::string head;
  std::string entries;
  for (std::size_t i = 0; i < benchmarks.size() && result < 128; ++i) {
    const std::string base = std::string(folder) + "/" + std::to_string(i + 1);
    // Simulated from the first measured run on (InstructionCount::start):
    // the start-up and the warm-up run at Valgrind's full speed, about 7
    // times faster, and the measured run starts with empty simulated caches.
    std::vector<std::string> command = {
        "valgrind",           "--tool=callgrind",     "--quiet",
        "--instr-atstart=no", "--collect-atstart=no", "--cache-sim=yes"};
    command.insert(command.end(), std::begin(kCacheModel), std::end(kCacheModel));
    // Valgrind's own notes (that it found an L3 cache it then does not
    // simulate, say) go to a log, shown only when the process fails.
    command.insert(command.end(),
                   {"--log-file=" + base + ".log", "--callgrind-out-file=" + base + ".callgrind",
                    program, "--loopbench_callgrind_out=" + base + ".callgrind"});
    command.insert(command.end(), passed.begin(), passed.end());
    command.insert(command.end(), {"--benchmark_filter=" + exactly(benchmarks[i]),
                                   "--benchmark_out=" + base + ".json"});
    const int status = run_child(std::move(command));
    const auto [own_head, own_entries] = split_benchmark_json(read_text(base + ".json"));
    if (status != 0 || own_head.empty()) {
      std::fputs(read_text(base + ".log").c_str(), stderr);
      if (result == 0) result = status != 0 ? status : 1;
      continue;
    }
    if (head.empty()) head = own_head;
    if (!own_entries.empty()) entries += (entries.empty() ? "\n    " : ",\n    ") + own_entries;
  }
  std::filesystem::remove_all(folder, error);
  if (!out_file.empty() && !head.empty()) {
    std::ofstream out(out_file, std::ios::binary);
    out << head << entries << "\n  ]\n}\n";
    if (!out.flush()) {
      std::fprintf(stderr, "loopbench_bench: cannot write %s\n", out_file.c_str());
      return result != 0 ? result : 1;
    }
  }
  return result;
}

void count_instructions(const std::string& dump_file) {
  if (RUNNING_ON_VALGRIND == 0) {
    std::fprintf(stderr,
                 "loopbench_bench: --loopbench_callgrind_out is for the processes that "
                 "--loopbench_instructions runs under Callgrind; use --loopbench_instructions\n");
    std::exit(2);
  }
  g_dump_file = dump_file;
  g_counted_registration = true;
}

bool counting_instructions() noexcept {
  return !g_dump_file.empty();
}

void InstructionCount::start() noexcept {
  if (!counting_instructions()) return;
  // Once, and never stopped: Callgrind 3.19 counts nothing after its
  // instrumentation is stopped and started again.
  static const bool instrumented = [] {
    CALLGRIND_START_INSTRUMENTATION;
    return true;
  }();
  (void)instrumented;
  CALLGRIND_TOGGLE_COLLECT;
}

void InstructionCount::stop() {
  if (!counting_instructions()) return;
  CALLGRIND_TOGGLE_COLLECT;
  CALLGRIND_DUMP_STATS;
  const std::string path = g_dump_file + "." + std::to_string(++g_dumps);
  std::map<std::string, double> counts = read_dump(path);
  std::filesystem::remove(path);
  instructions_ += counts["Ir"];
  estimated_cycles_ += estimated_cycles(counts);
  ++runs_;
}

void InstructionCount::publish(benchmark::State& state) const {
  if (runs_ == 0) return;
  state.counters["instructions"] = instructions_ / static_cast<double>(runs_);
  state.counters["estimated_cycles"] = estimated_cycles_ / static_cast<double>(runs_);
}

bool CountReporter::ReportContext(const Context&) {
  return true;
}

void CountReporter::ReportRuns(const std::vector<Run>& runs) {
  for (const Run& run : runs) {
    const std::string name = run.benchmark_name();
    if (run.error_occurred) {
      std::printf("%s  error: %s\n", name.c_str(), run.error_message.c_str());
      continue;
    }
    const auto instructions = run.counters.find("instructions");
    const auto cycles = run.counters.find("estimated_cycles");
    if (instructions == run.counters.end() || cycles == run.counters.end()) continue;
    std::printf("%s  %.0f instructions  %.0f estimated cycles\n", name.c_str(),
                instructions->second.value, cycles->second.value);
  }
  std::fflush(stdout);
}

}  // namespace loopbench::bench
