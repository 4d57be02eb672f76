"""gather on CPython: gather() over n trivial tasks (flat), pyperformance's async_tree
(tree), or n tasks that finish last first (staggered: the results still come back in
argument order)."""

import asyncio
import sys

import harness
from harness import integer, duration, choice

MAX_TREE_TASKS = 10_000_000
MAX_STAGGERED_TASKS = 10_000  # They take n * n / 2 steps in all.


class GatherRun:
    def __init__(self, loop, tracker: harness.Tracker, params: dict):
        self.loop = loop
        self.tracker = tracker
        self.params = params
        self.gather = tracker.single("gather")
        self.tasks = 0
        self.results_in_order = True


async def trivial() -> None:
    return None


async def tree_node(leaf_sleep_s: float, depth: int, branching: int) -> int:
    """The number of tasks at and below this node."""
    if depth == 0:
        await asyncio.sleep(leaf_sleep_s)  # sleep(0) yields for one iteration.
        return 1
    counts = await asyncio.gather(
        *(tree_node(leaf_sleep_s, depth - 1, branching) for _ in range(branching))
    )
    return 1 + sum(counts)


async def staggered_child(children: harness.Activity, index: int, n: int) -> int:
    children.started(index)
    try:
        for _ in range(index + 1, n):
            await asyncio.sleep(0)
    except asyncio.CancelledError:
        children.cancelled(index)
        raise
    children.finished(index)
    return index


async def gather_staggered(run: GatherRun, n: int) -> None:
    detailed = n <= harness.DETAIL_LIMIT
    children = run.tracker.group("children", "child", n, detailed)
    tasks = [run.loop.create_task(staggered_child(children, index, n)) for index in range(n)]
    for index, task in enumerate(tasks):
        children.attach(task, index)
    results = await asyncio.gather(*tasks)
    run.results_in_order = results == list(range(n))
    if detailed:
        run.tracker.event(" ".join(["gathered", *map(str, results)]))
    run.tasks = n


async def gather_main(run: GatherRun) -> None:
    params = run.params
    run.gather.started()
    if params["mode"] == "flat":
        await asyncio.gather(*(trivial() for _ in range(params["n"])))
        run.tasks = params["n"]
    elif params["mode"] == "staggered":
        await gather_staggered(run, params["n"])
    else:
        # The root runs inline in this task; every other node is a gathered task.
        run.tasks = (
            await tree_node(params["leaf_sleep"] / 1e9, params["depth"], params["branching"]) - 1
        )
    run.gather.finished(0, f"{run.tasks} tasks")


def tree_tasks(depth: int, branching: int) -> int:
    return sum(branching**level for level in range(1, depth + 1))


def run_gather(loop, params: dict, result: harness.Result) -> None:
    if (
        params["mode"] == "tree"
        and tree_tasks(params["depth"], params["branching"]) > MAX_TREE_TASKS
    ):
        raise harness.ParamError(f"the tree would have more than {MAX_TREE_TASKS} tasks")
    if params["mode"] == "staggered" and params["n"] > MAX_STAGGERED_TASKS:
        raise harness.ParamError(f"mode=staggered takes at most {MAX_STAGGERED_TASKS} tasks")
    tracker = harness.Tracker(result)
    run = GatherRun(loop, tracker, params)
    main = loop.create_task(gather_main(run))
    run.gather.attach(main)
    harness.run_to_completion(loop, params, tracker, main)
    result.metrics["tasks"] = run.tasks
    result.metrics["ns_per_task"] = harness.per_item_ns(result.wall_ns, run.tasks)
    if params["mode"] == "staggered":
        result.metrics["results_in_order"] = int(run.results_in_order)


SCENARIO = harness.Scenario(
    "gather",
    [
        choice("mode", ["flat", "tree", "staggered"]),
        integer("n", 100_000, 0, 10_000_000),
        integer("depth", 5, 1, 24),
        integer("branching", 5, 1, 1000),
        duration("leaf_sleep", 0),
    ],
    run_gather,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
