"""sleep_precision on CPython: one task sleeps `duration` n times in a row.

Latency samples: each wake-up's overshoot on CLOCK_MONOTONIC read directly
(negative = early), as in the C++ scenario; independent_clock is always 1 here.
"""

import asyncio
import sys
import time

import harness
from harness import integer, duration, MS


async def sleep_series(
    activity: harness.Activity, n: int, duration_ns: int, overshoot_ns: list
) -> None:
    activity.started()
    for _ in range(n):
        # Read before sleep() reads the loop clock: a negative overshoot is early.
        deadline = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + duration_ns
        await asyncio.sleep(duration_ns / 1e9)
        overshoot_ns.append(time.clock_gettime_ns(time.CLOCK_MONOTONIC) - deadline)
    activity.finished(0, f"{n} sleeps")


def run_sleep_precision(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    overshoot_ns = []
    sleeper = tracker.single("sleeper")
    main = loop.create_task(sleep_series(sleeper, params["n"], params["duration"], overshoot_ns))
    sleeper.attach(main)
    harness.run_to_completion(loop, params, tracker, main)
    result.metrics.update(
        sleeps=len(overshoot_ns),
        early_wakeups=sum(1 for sample in overshoot_ns if sample < 0),
        independent_clock=1,
    )
    if result.status == "ok":
        result.latency_ns = overshoot_ns


SCENARIO = harness.Scenario(
    "sleep_precision",
    [
        integer("n", 1000, 1, 10_000_000),
        duration("duration", 1 * MS),
    ],
    run_sleep_precision,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
