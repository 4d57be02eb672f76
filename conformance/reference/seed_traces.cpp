// seed_traces: the seed notes' small examples that have no scenario form
// (../shared/seed-asyncio-notes.md), fixed, run on every backend and printed
// as loopbench's JSON lines, so that the CPython oracle (differential.py)
// compares each trace with the one seed_<example>.py prints under asyncio.
// The examples that do have a scenario form (the run_forever stop race and
// its gather fix, the producer and consumer) are compared through
// `loopbench run`.
//
//   seed_traces run EXAMPLE [--backend NAME|all] [--set name=value ...] [--json] [--quiet]
//
// The arguments of `loopbench run`, so that the oracle calls both alike; the
// output is always JSON lines. Exit codes: 0 every run ok, 1 a run failed,
// 2 bad input (one line on stderr naming the valid choices).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "loops/loops.hpp"
#include "scenarios/scenario.hpp"

namespace {

using namespace std::chrono_literals;
using loops::Task;
using scenarios::Params;
using scenarios::ParamSpec;
using scenarios::Result;

constexpr int kExitRunFailed = 1;
constexpr int kExitUsage = 2;

ParamSpec sleep_param(std::string name, std::chrono::nanoseconds default_value) {
  return ParamSpec::duration(std::move(name), "how long the coroutine sleeps", default_value, 0s,
                             1h);
}

Task<std::string> test(std::vector<std::string>& trace) {
  trace.push_back("start test");
  trace.push_back("done test ok");
  co_return "ok";
}

Task<std::string> sleep_then_ok(std::vector<std::string>& trace, std::string name,
                                std::chrono::nanoseconds delay) {
  trace.push_back("start " + name);
  co_await loops::sleep(delay);
  trace.push_back("done " + name + " ok");
  co_return "ok";
}

// The coroutine has been created (and has run nothing: "created test" comes
// before "start test"); wrapped in a task with a done callback, which sees
// the result before run_until_complete returns it.
void run_with_done_callback(loops::EventLoop& loop, std::vector<std::string>& trace,
                            Task<std::string> coroutine) {
  trace.push_back("created test");
  auto task = loop.create_task(std::move(coroutine));
  task.add_done_callback([&trace](const loops::Future<std::string>& future) {
    trace.push_back("callback test: " + future.result());
  });
  const std::string value = loop.run_until_complete(task);
  trace.push_back("run_until_complete returned: " + value);
}

// "定义一个简单的协程" (fixed: the seed defined test twice, so its callback
// replaced the coroutine, and indented the body with a tab).
Result simple_coroutine(loops::EventLoop& loop, const Params&) {
  Result result;
  run_with_done_callback(loop, result.trace, test(result.trace));
  return result;
}

// "await 关键字": the same with sleep() standing for a network request.
Result await_sleep(loops::EventLoop& loop, const Params& params) {
  Result result;
  run_with_done_callback(loop, result.trace,
                         sleep_then_ok(result.trace, "test", params.duration("sleep")));
  return result;
}

// "run_until_complete 和 run_forever" (fixed: run_until_complete returns the
// task's result itself; the seed called .result() on that string).
Result run_until_complete_value(loops::EventLoop& loop, const Params& params) {
  Result result;
  auto task = loop.create_task(sleep_then_ok(result.trace, "do_some", params.duration("sleep")));
  const std::string value = loop.run_until_complete(task);
  result.trace.push_back("run_until_complete returned: " + value);
  return result;
}

// "并发操作": n tasks each sleep at once, wait() for them, then the result
// of each task in wait()'s done set (fixed: the seed timed itself with
// time.clock(), which Python 3.8 removed; a monotonic clock here).
Result concurrent(loops::EventLoop& loop, const Params& params) {
  Result result;
  std::vector<Task<std::string>> tasks;
  for (std::int64_t i = 0; i < params.integer("n"); ++i) {
    std::string name = "t";
    name += std::to_string(i);
    tasks.push_back(loop.create_task(
        sleep_then_ok(result.trace, std::move(name), params.duration("duration"))));
  }
  const auto start = std::chrono::steady_clock::now();
  const auto [done, pending] = loop.run_until_complete(loops::wait(tasks));
  result.metrics["elapsed_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.trace.push_back("wait returned: " + std::to_string(done.size()) + " done, " +
                         std::to_string(pending.size()) + " pending");
  double ok = 0;
  for (const auto& task : done) {
    result.trace.push_back("result: " + task.result());
    ok += task.result() == "ok" ? 1 : 0;
  }
  result.metrics["tasks"] = ok;
  return result;
}

// "Close Loop ?": a stopped loop runs again; a closed one refuses.
Result close_loop(loops::EventLoop& loop, const Params& params) {
  Result result;
  std::vector<std::string>& trace = result.trace;
  for (const char* name : {"first", "second"}) {
    const std::string value =
        loop.run_until_complete(sleep_then_ok(trace, name, params.duration("sleep")));
    trace.push_back("run_until_complete returned: " + value);
  }
  loop.close();
  trace.push_back("loop closed");
  try {
    const std::string value =
        loop.run_until_complete(sleep_then_ok(trace, "third", params.duration("sleep")));
    trace.push_back("run_until_complete returned: " + value);
  } catch (const std::runtime_error& refused) {
    trace.push_back(std::string("refused: ") + refused.what());
  }
  return result;
}

const std::vector<scenarios::Scenario>& examples() {
  static const std::vector<scenarios::Scenario> list = {
      {"seed_simple_coroutine",
       "a coroutine in a task with a done callback",
       {},
       &simple_coroutine},
      {"seed_await_sleep",
       "the same, awaiting sleep() first",
       {sleep_param("sleep", 1s)},
       &await_sleep},
      {"seed_concurrent",
       "n tasks sleep at once; wait() for them, then each result",
       {ParamSpec::integer("n", "number of sleeping tasks", 4, 1, 10'000),
        sleep_param("duration", 1s)},
       &concurrent},
      {"seed_run_until_complete",
       "run_until_complete returns the task's result",
       {sleep_param("sleep", 1s)},
       &run_until_complete_value},
      {"seed_close_loop",
       "a stopped loop runs again; a closed one refuses",
       {sleep_param("sleep", 1s)},
       &close_loop},
  };
  return list;
}

std::string example_names() {
  std::string names;
  for (const auto& example : examples()) {
    names += (names.empty() ? "" : ", ") + example.name;
  }
  return names;
}

struct UsageError {
  std::string message;
};

struct Arguments {
  const scenarios::Scenario* example = nullptr;
  std::string backend = "all";
  std::vector<std::string> assignments;
};

Arguments parse(int argc, char** argv) {
  Arguments args;
  if (argc < 3 || std::string_view(argv[1]) != "run") {
    throw UsageError{
        "expected: run EXAMPLE [--backend NAME|all] [--set name=value ...] "
        "(examples: " +
        example_names() + ")"};
  }
  for (const auto& example : examples()) {
    if (example.name == argv[2]) {
      args.example = &example;
    }
  }
  if (args.example == nullptr) {
    throw UsageError{"unknown example '" + std::string(argv[2]) + "' (valid: " + example_names() +
                     ")"};
  }
  for (int i = 3; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "--backend" || arg == "--set") && i + 1 < argc) {
      (arg == "--backend" ? args.backend : args.assignments.emplace_back()) = argv[++i];
    } else if (arg != "--json" && arg != "--quiet") {
      throw UsageError{"unknown argument '" + std::string(arg) +
                       "' (valid: --backend, --set, --json, --quiet)"};
    }
  }
  return args;
}

std::vector<std::string> backends(const std::string& choice) {
  if (choice == "all") {
    return loops::available_backend_names();
  }
  if (loops::find_backend(choice) == nullptr) {
    std::string valid;
    for (const auto& name : loops::available_backend_names()) {
      valid += name + ", ";
    }
    throw UsageError{"unknown backend '" + choice + "' (valid: " + valid + "all)"};
  }
  return {choice};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Arguments args = parse(argc, argv);
    Params params;
    try {
      params = args.example->parse(args.assignments);
    } catch (const scenarios::ParamError& e) {
      throw UsageError{args.example->name + ": " + e.what()};
    }
    int exit_code = 0;
    for (const std::string& backend : backends(args.backend)) {
      const Result result = scenarios::run(*args.example, backend, params);
      std::printf("%s\n", scenarios::to_json_line(result).c_str());
      if (!result.ok()) {
        exit_code = kExitRunFailed;
      }
    }
    return exit_code;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "seed_traces: %s\n", e.message.c_str());
    return kExitUsage;
  } catch (const std::exception& e) {  // A named backend that is unavailable here.
    std::fprintf(stderr, "seed_traces: %s\n", e.what());
    return kExitUsage;
  }
}
