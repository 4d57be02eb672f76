"""gather on CPython: gather() over n trivial tasks (flat) or pyperformance's async_tree (tree)."""

import asyncio
import sys

import harness
from harness import integer, duration, choice

MAX_TREE_TASKS = 10_000_000


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


async def gather_main(params: dict, activity: harness.Activity, counted: list) -> None:
    activity.started()
    if params["mode"] == "flat":
        await asyncio.gather(*(trivial() for _ in range(params["n"])))
        tasks = params["n"]
    else:
        # The root runs inline in this task; every other node is a gathered task.
        tasks = (
            await tree_node(params["leaf_sleep"] / 1e9, params["depth"], params["branching"]) - 1
        )
    counted.append(tasks)
    activity.finished(0, f"{tasks} tasks")


def tree_tasks(depth: int, branching: int) -> int:
    return sum(branching**level for level in range(1, depth + 1))


def run_gather(loop, params: dict, result: harness.Result) -> None:
    if (
        params["mode"] == "tree"
        and tree_tasks(params["depth"], params["branching"]) > MAX_TREE_TASKS
    ):
        raise harness.ParamError(f"the tree would have more than {MAX_TREE_TASKS} tasks")
    tracker = harness.Tracker(result)
    counted = []
    harness.run_to_completion(
        loop, params, tracker, gather_main(params, tracker.single("gather"), counted)
    )
    tasks = counted[0] if counted else 0
    result.metrics["tasks"] = tasks
    result.metrics["ns_per_task"] = harness.per_item_ns(result.wall_ns, tasks)


SCENARIO = harness.Scenario(
    "gather",
    [
        choice("mode", ["flat", "tree"]),
        integer("n", 1000, 0, 10_000_000),
        integer("depth", 5, 1, 24),
        integer("branching", 5, 1, 1000),
        duration("leaf_sleep", 0),
    ],
    run_gather,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
