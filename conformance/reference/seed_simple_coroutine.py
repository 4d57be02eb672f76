"""The seed's "定义一个简单的协程" example, fixed: a coroutine in a task with a done callback.

Calling the coroutine function runs nothing ("created test" comes before "start
test"); the task's done callback sees 'ok' before run_until_complete returns.
Fixed: the seed defined `test` twice, so its callback replaced the coroutine,
and indented the body with a tab. Its C++ form is seed_traces.cpp.
"""

import sys

import harness


async def test(trace: list) -> str:
    trace.append("start test")
    trace.append("done test ok")
    return "ok"


def run_with_done_callback(loop, trace: list, coroutine) -> None:
    trace.append("created test")
    task = loop.create_task(coroutine)  # The seed's asyncio.ensure_future(coroutine).

    def callback(future) -> None:
        trace.append(f"callback test: {future.result()}")

    task.add_done_callback(callback)
    value = loop.run_until_complete(task)
    trace.append(f"run_until_complete returned: {value}")


def run(loop, params: dict, result: harness.Result) -> None:
    run_with_done_callback(loop, result.trace, test(result.trace))


SCENARIO = harness.Scenario("seed_simple_coroutine", [], run, has_deadline=False)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
