"""tcp_echo on CPython: c connections to an echo server on 127.0.0.1 (client and server on
the loop), each doing m round trips of an s-byte message (write, drain, readexactly).

Latency samples: every round trip's time (perf_counter_ns). The throughput metrics
cover the exchange phase only, from all connections open to all round trips done.
"""

import asyncio
import sys
import time

import echo_server
import harness
from harness import DETAIL_LIMIT, integer

MAX_ROUND_TRIPS = 100_000_000


class EchoRun:
    def __init__(self, clients: harness.Activity, params: dict):
        self.clients = clients
        self.connections = params["c"]
        self.message_size = params["s"]
        self.round_trips = params["m"]
        self.rtt_ns = []
        self.exchange_ns = 0


async def round_trips(run: EchoRun, reader, writer) -> None:
    message = b"e" * run.message_size
    try:
        for _ in range(run.round_trips):
            sent = time.perf_counter_ns()
            writer.write(message)
            await writer.drain()
            echo = await reader.readexactly(run.message_size)
            run.rtt_ns.append(time.perf_counter_ns() - sent)
            if echo != message:
                raise RuntimeError("the echo differs from the message")
    finally:
        writer.close()  # However the run ends, as the C++ scenario.
    await writer.wait_closed()


async def client(run: EchoRun, reader, writer, index: int) -> None:
    run.clients.started(index)
    try:
        await round_trips(run, reader, writer)
    except asyncio.CancelledError:
        run.clients.cancelled(index)
        raise
    run.clients.finished(index)


async def echo_exchanges(run: EchoRun) -> None:
    server = await echo_server.start_echo_server()
    try:
        port = echo_server.port_of(server)
        streams = await asyncio.gather(
            *(asyncio.open_connection("127.0.0.1", port) for _ in range(run.connections))
        )
        start = time.perf_counter_ns()
        loop = asyncio.get_running_loop()
        clients = [
            loop.create_task(client(run, reader, writer, index))
            for index, (reader, writer) in enumerate(streams)
        ]
        for index, task in enumerate(clients):
            run.clients.attach(task, index)
        await asyncio.gather(*clients)
        run.exchange_ns = time.perf_counter_ns() - start
    finally:
        server.close()
    await server.wait_closed()


def run_tcp_echo(loop, params: dict, result: harness.Result) -> None:
    if params["c"] * params["m"] > MAX_ROUND_TRIPS:
        raise harness.ParamError(f"c * m must be at most {MAX_ROUND_TRIPS} round trips")
    tracker = harness.Tracker(result)
    connections = params["c"]
    echo_server.reserve_descriptors(connections)
    run = EchoRun(
        tracker.group("clients", "client", connections, connections <= DETAIL_LIMIT), params
    )
    harness.run_to_completion(loop, params, tracker, echo_exchanges(run))

    done = len(run.rtt_ns)
    seconds = run.exchange_ns * 1e-9
    result.metrics["connections"] = connections
    result.metrics["message_bytes"] = run.message_size
    result.metrics["round_trips"] = done
    if seconds > 0:
        result.metrics["round_trips_per_s"] = done / seconds
        # Payload echoed per second, counted once (it crosses the socket twice).
        result.metrics["mb_per_s"] = done * run.message_size / seconds / 1e6
    if result.status == "ok":
        result.latency_ns = run.rtt_ns


SCENARIO = harness.Scenario(
    "tcp_echo",
    [
        integer("c", 1, 1, 1000),
        integer("s", 64, 1, 1_000_000),
        integer("m", 1000, 1, 10_000_000),
    ],
    run_tcp_echo,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
