"""The seed's run_until_complete example, fixed: it returns the task's result itself.

The seed printed res.result(), but res is already 'ok' (a str has no
.result()). Its C++ form is seed_traces.cpp.
"""

import asyncio
import sys

import harness
from harness import duration, SECOND


async def do_some(trace: list, n: float) -> str:
    trace.append("start do_some")  # The seed's print('等待1秒').
    await asyncio.sleep(n)
    trace.append("done do_some ok")  # The seed's print('完成').
    return "ok"


def run(loop, params: dict, result: harness.Result) -> None:
    task = loop.create_task(do_some(result.trace, params["sleep"] / 1e9))
    res = loop.run_until_complete(task)
    result.trace.append(f"run_until_complete returned: {res}")


SCENARIO = harness.Scenario(
    "seed_run_until_complete",
    [duration("sleep", SECOND)],
    run,
    has_deadline=False,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
