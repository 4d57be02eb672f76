// gather: the cost of a task under gather(). Mode flat gathers n trivial
// tasks; mode tree is pyperformance's async_tree: each node gathers
// `branching` children down to `depth` levels, and the leaves sleep(0) (or
// sleep(leaf_sleep)). Mode staggered gathers n children that finish last
// first (child i yields n-1-i times, then returns i): the results still come
// back in argument order (SEMANTICS GATHER-01), which the trace shows for
// small n and metric results_in_order for any. Metric ns_per_task: wall time
// over the tasks gathered.
#include <numeric>

#include "scenarios/detail/harness.hpp"

namespace scenarios::detail {

namespace {

using namespace std::chrono_literals;

// Larger trees are refused: they would only measure the memory allocator.
constexpr std::int64_t kMaxTreeTasks = 10'000'000;
// Staggered children take n * n / 2 steps in all.
constexpr std::int64_t kMaxStaggeredTasks = 10'000;

struct GatherRun {
  std::chrono::nanoseconds leaf_sleep;
  Activity* gather;
  Tracker* tracker;
  std::int64_t tasks = 0;
  bool results_in_order = true;
};

loops::Task<void> trivial() {
  co_return;
}

loops::Task<void> gather_flat(GatherRun* run, std::int64_t n) {
  std::vector<loops::Task<void>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    tasks.push_back(trivial());
  }
  co_await loops::gather(tasks);
  run->tasks = n;
}

// Returns the number of tasks at and below this node.
loops::Task<std::int64_t> tree_node(GatherRun* run, std::int64_t depth, std::int64_t branching) {
  if (depth == 0) {
    co_await loops::sleep(run->leaf_sleep);  // A zero delay is sleep(0): one iteration.
    co_return 1;
  }
  std::vector<loops::Task<std::int64_t>> children;
  children.reserve(static_cast<std::size_t>(branching));
  for (std::int64_t i = 0; i < branching; ++i) {
    children.push_back(tree_node(run, depth - 1, branching));
  }
  const std::vector<std::int64_t> counts = co_await loops::gather(children);
  co_return 1 + std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
}

loops::Task<void> gather_tree(GatherRun* run, std::int64_t depth, std::int64_t branching) {
  // The root runs inline in this task; every other node is a gathered task.
  run->tasks = co_await tree_node(run, depth, branching) - 1;
}

loops::Task<std::int64_t> staggered_child(Activity* children, std::int64_t index, std::int64_t n) {
  children->started(static_cast<std::size_t>(index));
  try {
    for (std::int64_t later = index + 1; later < n; ++later) {
      co_await loops::sleep(0s);
    }
  } catch (const loops::CancelledError&) {
    children->cancelled(static_cast<std::size_t>(index));
    throw;
  }
  children->finished(static_cast<std::size_t>(index));
  co_return index;
}

loops::Task<void> gather_staggered(GatherRun* run, std::int64_t n) {
  const auto size = static_cast<std::size_t>(n);
  const bool detailed = size <= kDetailLimit;
  Activity& children = run->tracker->group("children", "child", size, detailed);
  std::vector<loops::Task<std::int64_t>> tasks;
  tasks.reserve(size);
  for (std::int64_t i = 0; i < n; ++i) {
    tasks.push_back(staggered_child(&children, i, n));
  }
  const std::vector<std::int64_t> results = co_await loops::gather(tasks);
  std::string gathered = "gathered";
  for (std::size_t i = 0; i < results.size(); ++i) {
    run->results_in_order = run->results_in_order && results[i] == static_cast<std::int64_t>(i);
    gathered.append(" ").append(std::to_string(results[i]));
  }
  if (detailed) {
    run->tracker->event(std::move(gathered));
  }
  run->tasks = n;
}

loops::Task<void> gather_main(GatherRun* run, const Params& params) {
  run->gather->started();
  if (params.choice("mode") == "flat") {
    co_await gather_flat(run, params.integer("n"));
  } else if (params.choice("mode") == "staggered") {
    co_await gather_staggered(run, params.integer("n"));
  } else {
    co_await gather_tree(run, params.integer("depth"), params.integer("branching"));
  }
  run->gather->finished(0, std::to_string(run->tasks) + " tasks");
}

// branching + branching^2 + ... + branching^depth, or -1 above kMaxTreeTasks.
std::int64_t tree_tasks(std::int64_t depth, std::int64_t branching) {
  std::int64_t total = 0;
  std::int64_t level = 1;
  for (std::int64_t d = 0; d < depth; ++d) {
    level *= branching;
    total += level;
    if (total > kMaxTreeTasks) {
      return -1;
    }
  }
  return total;
}

void validate_gather(const Params& params) {
  if (params.choice("mode") == "staggered" && params.integer("n") > kMaxStaggeredTasks) {
    throw ParamError("bad value n=" + std::to_string(params.integer("n")) +
                     " for mode=staggered: at most " + std::to_string(kMaxStaggeredTasks) +
                     " tasks (they take n*n/2 steps)");
  }
  if (params.choice("mode") != "tree") {
    return;
  }
  const std::int64_t depth = params.integer("depth");
  const std::int64_t branching = params.integer("branching");
  if (tree_tasks(depth, branching) < 0) {
    throw ParamError("bad combination depth=" + std::to_string(depth) + " branching=" +
                     std::to_string(branching) + ": the tree would have more than " +
                     std::to_string(kMaxTreeTasks) + " tasks; lower depth or branching");
  }
}

Result run_gather(loops::EventLoop& loop, const Params& params) {
  Result result;
  Tracker tracker(result);
  GatherRun run{params.duration("leaf_sleep"), &tracker.single("gather"), &tracker};
  const loops::Task<void> main = gather_main(&run, params);
  run.gather->attach(main);
  run_to_completion(loop, params, tracker, main);
  result.metrics["tasks"] = static_cast<double>(run.tasks);
  if (params.choice("mode") == "staggered") {
    result.metrics["results_in_order"] = run.results_in_order ? 1.0 : 0.0;
  }
  result.metrics["ns_per_task"] = per_item_ns(result.wall_ns, run.tasks);
  return result;
}

}  // namespace

Scenario gather_scenario() {
  return {
      .name = "gather",
      .description =
          "gather() over n trivial tasks (flat), a tree of gathers (tree, like async_tree) or n "
          "tasks that finish last first (staggered); ns per task",
      .params =
          {
              ParamSpec::choice("mode",
                                "flat: one gather of n tasks; tree: nested gathers; staggered: n "
                                "tasks that finish last first",
                                {"flat", "tree", "staggered"}),
              ParamSpec::integer("n", "flat, staggered: number of tasks", 100'000, 0, 10'000'000),
              ParamSpec::integer("depth", "tree: levels of gathers below the root", 5, 1, 24),
              ParamSpec::integer("branching", "tree: children per node", 5, 1, 1000),
              ParamSpec::duration("leaf_sleep", "tree: each leaf sleeps this long (0 = sleep(0))",
                                  0s, 0s, 1h),
          },
      .run = &run_gather,
      .validate = &validate_gather,
      .metrics = {{"tasks", ""}, {"results_in_order", ""}, {"ns_per_task", "ns"}},
      .items_metric = "tasks",
      .size_param = "n",
      // The tree is pyperformance's async_tree size (6 x 6).
      .bench_sets = {{{"mode=flat", "n=100000"}}, {{"mode=tree", "depth=6", "branching=6"}}},
      .endless = {"mode=tree", "depth=2", "branching=2", "leaf_sleep=1h"},
  };
}

}  // namespace scenarios::detail
