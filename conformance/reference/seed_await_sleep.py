"""The seed's "await 关键字" example: the coroutine awaits sleep(1), standing for a request.

Otherwise as seed_simple_coroutine.py; the seed's code here was right. Its C++
form is seed_traces.cpp.
"""

import asyncio
import sys

import harness
import seed_simple_coroutine
from harness import duration, SECOND


async def test(trace: list, delay_s: float) -> str:
    trace.append("start test")
    await asyncio.sleep(delay_s)
    trace.append("done test ok")
    return "ok"


def run(loop, params: dict, result: harness.Result) -> None:
    seed_simple_coroutine.run_with_done_callback(
        loop, result.trace, test(result.trace, params["sleep"] / 1e9)
    )


SCENARIO = harness.Scenario(
    "seed_await_sleep",
    [duration("sleep", SECOND)],
    run,
    has_deadline=False,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
