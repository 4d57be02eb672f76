"""The seed's "并发操作" example, fixed: four tasks each sleep(1) at once.

They finish together after about one second, not four. Fixed: the seed timed
itself with time.clock(), which Python 3.8 removed; time.monotonic() here.
Its C++ form is the parallel_sleeps scenario (n=4, duration=1s).
"""

import asyncio
import sys
import time

import harness
from harness import DETAIL_LIMIT, integer, duration, SECOND


async def test(sleepers: harness.Activity, index: int, a: float) -> str:
    sleepers.started(index)
    await asyncio.sleep(a)
    sleepers.finished(index)
    return "ok"


def run(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    n = params["n"]
    sleepers = tracker.group("sleepers", "t", n, n <= DETAIL_LIMIT)
    start = time.monotonic()
    tasks = [
        loop.create_task(test(sleepers, index, params["duration"] / 1e9)) for index in range(n)
    ]
    # asyncio.wait() gives (done, pending); each done task holds its 'ok'.
    harness.run_to_completion(loop, params, tracker, asyncio.wait(tasks))
    result.metrics["tasks"] = sum(
        1 for task in tasks if not task.cancelled() and task.done() and task.result() == "ok"
    )
    result.metrics["elapsed_s"] = time.monotonic() - start


SCENARIO = harness.Scenario(
    "seed_concurrent",
    [
        integer("n", 4, 1, 10_000_000),
        duration("duration", SECOND),
    ],
    run,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
