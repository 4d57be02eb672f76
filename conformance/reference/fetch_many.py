"""fetch_many on CPython: n concurrent requests (connect, send s bytes, read the echo,
close) to an echo server on 127.0.0.1, against one request alone.

One request runs alone first (single_request_ns), then n at once (total_ns).
Latency samples: each of the n concurrent requests' time. With `delay`, the
server holds each request that long before answering.
"""

import asyncio
import sys
import time

import echo_server
import harness
from harness import DETAIL_LIMIT, integer, duration


class FetchRun:
    def __init__(self, requests: harness.Activity, params: dict):
        self.requests = requests
        self.n = params["n"]
        self.size = params["s"]
        self.delay_ns = params["delay"]
        self.single_ns = 0
        self.total_ns = 0
        self.request_ns = []


async def fetch(port: int, size: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"r" * size
    try:
        writer.write(request)
        await writer.drain()
        if await reader.readexactly(size) != request:
            raise RuntimeError("the response differs from the request")
    finally:
        writer.close()  # However the run ends, as the C++ scenario.
    await writer.wait_closed()


async def timed_fetch(run: FetchRun, port: int, index: int) -> None:
    run.requests.started(index)
    start = time.perf_counter_ns()
    try:
        await fetch(port, run.size)
    except asyncio.CancelledError:
        run.requests.cancelled(index)
        raise
    run.request_ns.append(time.perf_counter_ns() - start)
    run.requests.finished(index)


async def fetch_all(run: FetchRun) -> None:
    server = await echo_server.start_echo_server(run.delay_ns)
    try:
        port = echo_server.port_of(server)
        single = time.perf_counter_ns()
        await fetch(port, run.size)
        run.single_ns = time.perf_counter_ns() - single

        start = time.perf_counter_ns()
        loop = asyncio.get_running_loop()
        requests = [loop.create_task(timed_fetch(run, port, index)) for index in range(run.n)]
        for index, task in enumerate(requests):
            run.requests.attach(task, index)
        await asyncio.gather(*requests)
        run.total_ns = time.perf_counter_ns() - start
    finally:
        server.close()
    await server.wait_closed()


def run_fetch_many(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    n = params["n"]
    echo_server.reserve_descriptors(n)
    run = FetchRun(tracker.group("requests", "request", n, n <= DETAIL_LIMIT), params)
    harness.run_to_completion(loop, params, tracker, fetch_all(run))

    result.metrics["requests"] = len(run.request_ns)
    result.metrics["single_request_ns"] = run.single_ns
    result.metrics["total_ns"] = run.total_ns
    if run.single_ns > 0 and run.total_ns > 0:
        result.metrics["total_over_single"] = run.total_ns / run.single_ns
    if result.status == "ok":
        result.latency_ns = run.request_ns


SCENARIO = harness.Scenario(
    "fetch_many",
    [
        integer("n", 100, 1, 1000),
        integer("s", 64, 1, 1_000_000),
        duration("delay", 0),
    ],
    run_fetch_many,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
