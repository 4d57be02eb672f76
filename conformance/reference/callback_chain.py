"""callback_chain on CPython: each call_soon callback schedules the next, n in all."""

import sys

import harness
from harness import integer


class Chain:
    def __init__(self, loop, activity: harness.Activity, n: int):
        self.loop = loop
        self.activity = activity
        self.remaining = n
        self.next = None  # The link still queued, so that a run cut short can cancel it.
        self.done = loop.create_future()

    def link(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set_result(None)
            return
        self.next = self.loop.call_soon(self.link)


async def chain_main(chain: Chain, n: int) -> None:
    chain.activity.started()
    chain.next = chain.loop.call_soon(chain.link)
    await chain.done
    chain.activity.finished(0, f"{n} callbacks")


def run_callback_chain(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    n = params["n"]
    chain = Chain(loop, tracker.single("chain"), n)
    main = loop.create_task(chain_main(chain, n))
    chain.activity.attach(main)
    harness.run_to_completion(loop, params, tracker, main, lambda: chain.next.cancel())
    ran = n - chain.remaining
    result.metrics["callbacks"] = ran
    result.metrics["ns_per_callback"] = harness.per_item_ns(result.wall_ns, ran)


SCENARIO = harness.Scenario(
    "callback_chain",
    [
        integer("n", 1_000_000, 1, 1_000_000_000),
    ],
    run_callback_chain,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
