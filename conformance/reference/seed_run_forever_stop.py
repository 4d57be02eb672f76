"""The seed's run_forever() example with two coroutines, fixed.

do_some(loop, 1) and do_some(loop, 2) each call loop.stop() when done; the
first to finish stops the loop and the other is left pending, as the seed
says. Fixed: the seed then left that task pending forever and never closed the
loop; here the pending task is reported and cancelled. Its C++ form is the
stop_race scenario (variant=naive).
"""

import asyncio
import sys

import harness
import stop_race
from harness import duration, SECOND


async def do_some(race: stop_race.StopRace, n: float) -> None:
    await asyncio.sleep(n)
    race.stop_loop()  # The seed's loop.stop(), traced.


def run(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    race = stop_race.StopRace(loop, tracker)
    harness.spawn(loop, tracker, "a", do_some(race, params["sleep_a"] / 1e9))
    harness.spawn(loop, tracker, "b", do_some(race, params["sleep_b"] / 1e9))
    stop_race.run_until_stopped(loop, params, tracker, race)
    harness.cancel_leftovers(loop, tracker)


SCENARIO = harness.Scenario(
    "seed_run_forever_stop",
    [
        duration("sleep_a", SECOND),
        duration("sleep_b", 2 * SECOND),
    ],
    run,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
