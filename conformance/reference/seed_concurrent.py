"""The seed's "并发操作" example, fixed: four tasks each sleep(1) at once.

They finish together after about one second, not four; asyncio.wait() gives
(done, pending), and the seed prints each done task's result. Fixed: the seed
timed itself with time.clock(), which Python 3.8 removed; time.monotonic()
here. Its C++ form is seed_traces.cpp.
"""

import asyncio
import sys
import time

import harness
from harness import integer, duration, SECOND


async def test(trace: list, name: str, a: float) -> str:
    trace.append(f"start {name}")
    await asyncio.sleep(a)
    trace.append(f"done {name} ok")
    return "ok"


def run(loop, params: dict, result: harness.Result) -> None:
    trace = result.trace
    # The seed's asyncio.ensure_future(coroutine) for each.
    tasks = [
        loop.create_task(test(trace, f"t{index}", params["duration"] / 1e9))
        for index in range(params["n"])
    ]
    start = time.monotonic()
    done, pending = loop.run_until_complete(asyncio.wait(tasks))
    result.metrics["elapsed_s"] = time.monotonic() - start
    trace.append(f"wait returned: {len(done)} done, {len(pending)} pending")
    for item in done:  # A set: its order is undefined, and every line is the same.
        trace.append(f"result: {item.result()}")
    result.metrics["tasks"] = sum(1 for item in done if item.result() == "ok")


SCENARIO = harness.Scenario(
    "seed_concurrent",
    [
        integer("n", 4, 1, 10_000),
        duration("duration", SECOND),
    ],
    run,
    has_deadline=False,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
