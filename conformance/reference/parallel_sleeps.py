"""parallel_sleeps on CPython: n tasks each sleep `duration` at once.

Latency samples: each task's resume time minus its deadline on the loop clock.
"""

import asyncio
import sys

import harness
from harness import DETAIL_LIMIT, integer, duration, MS


class SleepRun:
    def __init__(self, loop, duration_s: float, sleepers: harness.Activity, n: int):
        self.loop = loop
        self.duration_s = duration_s
        self.sleepers = sleepers
        self.overshoot_ns = [0] * n
        self.awake = 0
        self.early = 0
        self.all_awake = loop.create_future()
        self.last_wake = 0.0


async def sleeper(run: SleepRun, index: int) -> None:
    run.sleepers.started(index)
    deadline = run.loop.time() + run.duration_s
    try:
        await asyncio.sleep(run.duration_s)
    except asyncio.CancelledError:
        run.sleepers.cancelled(index)
        raise
    now = run.loop.time()
    run.overshoot_ns[index] = round((now - deadline) * 1e9)
    if now < deadline:
        run.early += 1
    run.last_wake = now
    run.sleepers.finished(index)
    run.awake += 1
    if run.awake == len(run.overshoot_ns):
        run.all_awake.set_result(None)


async def start_sleepers(run: SleepRun) -> None:
    for index in range(len(run.overshoot_ns)):
        run.sleepers.attach(run.loop.create_task(sleeper(run, index)), index)
    await run.all_awake


def run_parallel_sleeps(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    n = params["n"]
    run = SleepRun(
        loop, params["duration"] / 1e9, tracker.group("sleepers", "t", n, n <= DETAIL_LIMIT), n
    )
    start = loop.time()
    harness.run_to_completion(loop, params, tracker, start_sleepers(run))
    result.metrics["tasks"] = n
    result.metrics["early_wakeups"] = run.early
    end = run.last_wake if run.awake == n else loop.time()
    result.metrics["loop_elapsed_ns"] = round((end - start) * 1e9)
    if run.awake == n:
        result.latency_ns = run.overshoot_ns


SCENARIO = harness.Scenario(
    "parallel_sleeps",
    [
        integer("n", 1000, 1, 10_000_000),
        duration("duration", MS),
    ],
    run_parallel_sleeps,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
