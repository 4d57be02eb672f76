"""threadsafe_pingpong on CPython: round trips between a thread and the loop.

The thread sends each ping with call_soon_threadsafe; the callback, on the
loop thread, answers through a condition the thread waits on. Latency
samples: each round trip as the thread sees it.
"""

import sys
import threading
import time

import harness
from harness import integer

QUIT = -1


class Pingpong:
    def __init__(self, loop, pinger: harness.Activity):
        self.loop = loop
        self.pinger = pinger  # Loop-thread only; None once the scenario returned.
        self.pinger_done = loop.create_future()
        self.answered = 0  # The last round answered, or QUIT once nobody waits.
        self.changed = threading.Condition()
        self.round_trips_ns = []

    def answer(self, round_number: int) -> None:
        with self.changed:
            if self.answered == round_number - 1:
                self.answered = round_number
                self.changed.notify()

    def quit(self) -> None:
        with self.changed:
            self.answered = QUIT
            self.changed.notify()

    def ping(self, rounds: int) -> None:
        for round_number in range(1, rounds + 1):
            sent = time.perf_counter_ns()
            self.loop.call_soon_threadsafe(self.answer, round_number)
            with self.changed:
                self.changed.wait_for(lambda: self.answered in (round_number, QUIT))
                if self.answered == QUIT:
                    return
            self.round_trips_ns.append(time.perf_counter_ns() - sent)
        self.loop.call_soon_threadsafe(self.finish)

    def finish(self) -> None:
        if self.pinger is None:
            return  # Arrived after the scenario gave up.
        self.pinger.finished()
        self.pinger_done.set_result(None)


async def await_pinger(shared: Pingpong) -> None:
    await shared.pinger_done


def run_threadsafe_pingpong(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    shared = Pingpong(loop, tracker.single("pinger"))
    shared.pinger.started()
    pinger = threading.Thread(target=shared.ping, args=(params["rounds"],))
    pinger.start()

    joined = []

    def stop_pinger() -> None:
        """A pinger stopped before it finished was really cancelled: its thread quit."""
        shared.quit()
        if not joined:
            pinger.join()
            joined.append(True)
            shared.pinger.cancelled()

    harness.run_to_completion(loop, params, tracker, await_pinger(shared), stop_pinger)
    stop_pinger()
    shared.pinger = None
    result.metrics["round_trips"] = len(shared.round_trips_ns)
    result.latency_ns = shared.round_trips_ns


SCENARIO = harness.Scenario(
    "threadsafe_pingpong",
    [
        integer("rounds", 10_000, 1, 100_000_000),
    ],
    run_threadsafe_pingpong,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
