"""The seed's "Close Loop ?" example: a stopped loop runs again; a closed one refuses.

Fixed: the refused coroutine is closed rather than left never awaited (which
Python reports with a RuntimeWarning). Its C++ form is seed_traces.cpp.
"""

import asyncio
import sys

import harness
from harness import duration, SECOND


async def do_some_work(trace: list, name: str, n: float) -> str:
    trace.append(f"start {name}")
    await asyncio.sleep(n)
    trace.append(f"done {name} ok")
    return "ok"


def run(loop, params: dict, result: harness.Result) -> None:
    trace, delay_s = result.trace, params["sleep"] / 1e9
    for name in ("first", "second"):
        value = loop.run_until_complete(do_some_work(trace, name, delay_s))
        trace.append(f"run_until_complete returned: {value}")
    loop.close()
    trace.append("loop closed")
    third = do_some_work(trace, "third", delay_s)
    try:
        value = loop.run_until_complete(third)
        trace.append(f"run_until_complete returned: {value}")
    except RuntimeError as refused:
        trace.append(f"refused: {refused}")
        third.close()


SCENARIO = harness.Scenario(
    "seed_close_loop",
    [duration("sleep", SECOND)],
    run,
    has_deadline=False,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
