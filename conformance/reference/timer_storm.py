"""timer_storm on CPython: libuv's million_timers with loop.call_at().

Deadlines step up in 1000 equal steps up to `spread`; schedule, dispatch and
total time apart. Latency samples: each timer's callback time minus its deadline.
Up to 16 timers, the trace names each firing, in deadline order.
"""

import sys
import time

import harness
from harness import integer, duration, SECOND

DEADLINE_STEPS = 1000


class Storm:
    def __init__(self, loop, timers: harness.Activity):
        self.loop = loop
        self.timers = timers
        self.handles = []  # Kept so that a run cut short can cancel what is left.
        self.lateness_ns = []
        self.all_fired = loop.create_future()
        self.schedule_ns = self.dispatch_ns = self.total_ns = 0

    def on_timer(self, index: int, deadline: float) -> None:
        self.timers.finished(index)
        self.lateness_ns.append(round((self.loop.time() - deadline) * 1e9))
        if len(self.lateness_ns) == len(self.handles):
            self.all_fired.set_result(None)


async def storm_main(storm: Storm, n: int, spread_ns: int) -> None:
    loop = storm.loop
    schedule_start = time.perf_counter_ns()
    base = loop.time()
    for index in range(n):
        step = index * DEADLINE_STEPS // n + 1
        deadline = base + spread_ns * step // DEADLINE_STEPS / 1e9
        storm.handles.append(loop.call_at(deadline, storm.on_timer, index, deadline))
    dispatch_start = time.perf_counter_ns()
    storm.schedule_ns = dispatch_start - schedule_start
    storm.timers.start_all()
    await storm.all_fired
    storm.dispatch_ns = time.perf_counter_ns() - dispatch_start
    storm.total_ns = time.perf_counter_ns() - schedule_start


def run_timer_storm(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    n = params["n"]
    detailed = n <= harness.DETAIL_LIMIT
    storm = Storm(loop, tracker.group("timers", "timer", n, detailed))

    def cancel_timers() -> None:
        """The timers that had not fired are really cancelled (as the C++ scenario)."""
        fired = len(storm.lateness_ns)
        for index, handle in enumerate(storm.handles):
            handle.cancel()
            if detailed or index >= fired:
                storm.timers.cancelled(index)

    harness.run_to_completion(
        loop, params, tracker, storm_main(storm, n, params["spread"]), cancel_timers
    )
    result.metrics.update(
        timers=n,
        schedule_ns=storm.schedule_ns,
        schedule_ns_per_timer=harness.per_item_ns(storm.schedule_ns, n),
        dispatch_ns=storm.dispatch_ns,
        total_ns=storm.total_ns,
    )
    if result.status == "ok":
        result.latency_ns = storm.lateness_ns


SCENARIO = harness.Scenario(
    "timer_storm",
    [
        integer("n", 1_000_000, 1, 10_000_000),
        duration("spread", SECOND),
    ],
    run_timer_storm,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
