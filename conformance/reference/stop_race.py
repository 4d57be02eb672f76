"""stop_race on CPython: the seed's run_forever() pitfall (naive) and its fix (fixed).

Naive: tasks a and b each call loop.stop() when done; the slower is left pending.
Fixed: gather(a, b) with a done callback that stops the loop. Same_batch: a and b
each await one shared sleep(sleep_a), then call loop.stop(): its done callbacks wake
them in one batch, which stop() lets finish, so both finish. Latency sample: wall
time from loop.stop() to run_forever() returning.
"""

import asyncio
import sys
import time

import harness
from harness import duration, choice, MS


class StopRace:
    def __init__(self, loop, tracker: harness.Tracker):
        self.loop = loop
        self.tracker = tracker
        self.stop_requested = 0
        self.stopped_by_scenario = False

    def stop_loop(self) -> None:
        self.tracker.event("stop loop")
        self.stopped_by_scenario = True
        self.stop_requested = time.perf_counter_ns()
        self.loop.stop()


async def do_some(race: StopRace, delay_s: float, stop_when_done: bool) -> None:
    await asyncio.sleep(delay_s)
    if stop_when_done:
        race.stop_loop()


async def await_then_stop(race: StopRace, shared: asyncio.Task) -> None:
    await shared
    race.stop_loop()


def run_until_stopped(loop, params: dict, tracker: harness.Tracker, race: StopRace) -> None:
    """run_forever() under the deadline, then "loop stopped" and what was still pending."""
    result = tracker.result
    deadline = harness.DeadlineGuard(loop, params["deadline"], tracker)
    start = time.perf_counter_ns()
    try:
        loop.run_forever()
    except Exception as error:
        result.fail(harness.describe_exception(error))
    returned = time.perf_counter_ns()
    result.wall_ns = returned - start
    tracker.event("loop stopped")
    if race.stopped_by_scenario:
        result.metrics["stop_to_return_ns"] = returned - race.stop_requested
        result.latency_ns.append(returned - race.stop_requested)
    deadline.release()
    deadline.record(result)
    # The naive variant's point: the slower task is still pending here.
    tracker.trace_pending()


def run_stop_race(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    race = StopRace(loop, tracker)
    variant = params["variant"]
    delay_a, delay_b = params["sleep_a"] / 1e9, params["sleep_b"] / 1e9
    both = None
    if variant == "naive":
        harness.spawn(loop, tracker, "a", do_some(race, delay_a, True))
        harness.spawn(loop, tracker, "b", do_some(race, delay_b, True))
    elif variant == "same_batch":
        shared = loop.create_task(asyncio.sleep(delay_a))
        harness.spawn(loop, tracker, "a", await_then_stop(race, shared))
        harness.spawn(loop, tracker, "b", await_then_stop(race, shared))
    else:
        a, b = tracker.single("a"), tracker.single("b")
        both = asyncio.gather(
            harness.traced(loop, a, do_some(race, delay_a, False)),
            harness.traced(loop, b, do_some(race, delay_b, False)),
        )

        def stop_when_both_done(_future) -> None:
            race.stop_loop()

        both.add_done_callback(stop_when_both_done)

    run_until_stopped(loop, params, tracker, race)
    if both is not None:
        both.remove_done_callback(stop_when_both_done)
    harness.cancel_leftovers(loop, tracker)
    # Cancelling a or b fails the gather with CancelledError: expected, so mark it seen.
    if both is not None and both.done() and not both.cancelled():
        both.exception()


SCENARIO = harness.Scenario(
    "stop_race",
    [
        choice("variant", ["fixed", "naive", "same_batch"]),
        duration("sleep_a", MS),
        duration("sleep_b", 2 * MS),
    ],
    run_stop_race,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
