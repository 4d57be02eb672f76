"""tcp_echo on CPython: c connections to an echo server on 127.0.0.1 (client and server on
the loop), each doing m round trips of an s-byte message (write and drain in
pieces of ECHO_PIECE bytes with a turn of the loop between them, then read the
echo as it arrives).

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
        # Closed at the deadline (see close_connections).
        self.server = None
        self.clients_side = []
        self.server_side = []


async def round_trips(run: EchoRun, reader, writer) -> None:
    message = b"e" * run.message_size
    try:
        for _ in range(run.round_trips):
            sent = time.perf_counter_ns()
            for offset in range(0, len(message), echo_server.ECHO_PIECE):
                if offset > 0:
                    await asyncio.sleep(0)
                writer.write(message[offset : offset + echo_server.ECHO_PIECE])
                await writer.drain()
            received = 0
            while received < len(message):
                echo = await reader.read(len(message) - received)
                if not echo:
                    raise RuntimeError("the echo ended early")
                if message[received : received + len(echo)] != echo:
                    raise RuntimeError("the echo differs from the message")
                received += len(echo)
            run.rtt_ns.append(time.perf_counter_ns() - sent)
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
    server = await echo_server.start_echo_server(0, run.server_side)
    run.server = server
    try:
        port = echo_server.port_of(server)
        streams = await asyncio.gather(
            *(asyncio.open_connection("127.0.0.1", port) for _ in range(run.connections))
        )
        run.clients_side = [writer for _, writer in streams]
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


def close_connections(run: EchoRun) -> None:
    """At the deadline, before the clean-up: stops accepting and closes every connection."""
    if run.server is not None:
        run.server.close()
    echo_server.close_all(run.clients_side)
    echo_server.close_all(run.server_side)


def run_tcp_echo(loop, params: dict, result: harness.Result) -> None:
    if params["c"] * params["m"] > MAX_ROUND_TRIPS:
        raise harness.ParamError(f"c * m must be at most {MAX_ROUND_TRIPS} round trips")
    tracker = harness.Tracker(result)
    connections = params["c"]
    echo_server.reserve_descriptors(connections)
    run = EchoRun(
        tracker.group("clients", "client", connections, connections <= DETAIL_LIMIT), params
    )
    harness.run_to_completion(
        loop, params, tracker, echo_exchanges(run), lambda: close_connections(run)
    )

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
        integer("m", 10_000, 1, 10_000_000),
    ],
    run_tcp_echo,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
