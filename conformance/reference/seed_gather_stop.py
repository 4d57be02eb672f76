"""The seed's fix of the run_forever() race: gather() plus a done callback that stops.

Both coroutines finish, then the gather's done callback stops the loop. Fixed:
the seed called asyncio.gather(do_some(1), do_some(3)) before any loop ran,
which Python 3.10 deprecated (it has to guess the loop); here the tasks are
created on the loop first. Its C++ form is the stop_race scenario (variant=fixed).
"""

import asyncio
import functools
import sys

import harness
import stop_race
from harness import duration, SECOND


async def do_some(n: float) -> None:
    await asyncio.sleep(n)


def done_callback(race: stop_race.StopRace, _future) -> None:
    race.stop_loop()  # The seed's loop.stop(), traced.


def run(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    race = stop_race.StopRace(loop, tracker)
    futures = asyncio.gather(
        harness.traced(loop, tracker.single("a"), do_some(params["sleep_a"] / 1e9)),
        harness.traced(loop, tracker.single("b"), do_some(params["sleep_b"] / 1e9)),
    )
    stop = functools.partial(done_callback, race)
    futures.add_done_callback(stop)
    stop_race.run_until_stopped(loop, params, tracker, race)
    futures.remove_done_callback(stop)  # A clean-up cancellation must not stop the loop again.
    harness.cancel_leftovers(loop, tracker)
    if futures.done() and not futures.cancelled():
        futures.exception()  # Seen: a cancelled child's CancelledError is expected.


SCENARIO = harness.Scenario(
    "seed_gather_stop",
    [
        duration("sleep_a", SECOND),
        duration("sleep_b", 3 * SECOND),
    ],
    run,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
