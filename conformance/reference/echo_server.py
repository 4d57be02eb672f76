"""What tcp_echo.py and fetch_many.py share, after scenarios/detail/echo.cpp.

An echo server on 127.0.0.1 and an ephemeral port, served by the loop under
test, and the descriptor bound that keeps a run within the process's limit.
"""

import asyncio
import resource
from typing import Optional

# The most bytes one step of an echo client or of the server copies (kEchoPiece).
ECHO_PIECE = 16 * 1024
SPARE_DESCRIPTORS = 64  # Besides the connections: the loop, stdio, ...


async def _echo_connection(
    delay_s: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while chunk := await reader.read(ECHO_PIECE):
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            writer.write(chunk)
            await writer.drain()
    except asyncio.CancelledError:
        # The run's clean-up cancels a connection that a deadline cut short. Ending
        # quietly: Python 3.11's start_server logs a cancelled handler as an error.
        writer.close()
        return
    writer.close()
    await writer.wait_closed()


async def start_echo_server(delay_ns: int = 0, accepted: Optional[list] = None) -> asyncio.Server:
    """Each connection gets every byte back until end of stream, each chunk held `delay_ns`.

    Each accepted connection's writer is added to `accepted` when given.
    """

    def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if accepted is not None:
            accepted.append(writer)
        return _echo_connection(delay_ns / 1e9, reader, writer)

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def close_all(writers: list) -> None:
    """Closes every connection, at a deadline before the clean-up cancels the tasks."""
    for writer in writers:
        writer.close()


def port_of(server: asyncio.Server) -> int:
    return server.sockets[0].getsockname()[1]


def reserve_descriptors(connections: int) -> None:
    """Raises the soft RLIMIT_NOFILE so that `connections` client-and-server pairs fit."""
    needed = 2 * connections + SPARE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise RuntimeError(
            f"{connections} connections need {needed} descriptors; RLIMIT_NOFILE allows {hard}"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
