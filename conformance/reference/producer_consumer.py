"""producer_consumer on CPython: a producer and a consumer over an asyncio.Queue.

Strategies: bounded (Queue(maxsize=k)), join_at (the seed's: join() whenever
qsize() >= k) and unbounded. Termination: the producer is awaited, then
join(), then the consumer is cancelled (cancel) or the queue shut down
(shutdown: Queue.shutdown() is Python 3.13's; older interpreters use
queue_model.py, written from its documentation); none is the seed's endless
gather, which times out. Latency samples: put-to-get time on the loop clock.
"""

import asyncio
import sys

import harness
import queue_model
from harness import integer, choice

QUEUE_SHUTDOWN = queue_model.queue_shutdown_error()

# The producer yields to the loop after this many items: put() does not
# suspend while the queue has room, and a step that never awaits cannot be
# cut by a deadline.
ITEMS_PER_STEP = 100_000


class PcRun:
    def __init__(self, loop, tracker: harness.Tracker, params: dict):
        self.loop = loop
        self.tracker = tracker
        self.items = params["items"]
        self.k = params["k"]
        self.sample_every = params["sample_every"]
        self.join_at = params["strategy"] == "join_at"
        self.detailed = self.items <= harness.DETAIL_LIMIT  # Every put, get and join traced.
        # The model only where this interpreter's Queue cannot shut down.
        queue = queue_model.queue_class() if params["termination"] == "shutdown" else asyncio.Queue
        self.queue = queue(maxsize=self.k if params["strategy"] == "bounded" else 0)
        self.max_qsize = 0
        self.consumed = 0
        self.out_of_order = False
        self.latency_ns = []


async def produce(run: PcRun) -> None:
    for sequence in range(run.items):
        sampled = run.sample_every > 0 and sequence % run.sample_every == 0
        await run.queue.put((sequence, run.loop.time() if sampled else None))
        if run.detailed:
            run.tracker.event(f"put {sequence}")
        size = run.queue.qsize()
        run.max_qsize = max(run.max_qsize, size)
        if run.join_at and size >= run.k:
            if run.detailed:
                run.tracker.event("join queue")
            await run.queue.join()
            if run.detailed:
                run.tracker.event("joined queue")
        if (sequence + 1) % ITEMS_PER_STEP == 0:
            await asyncio.sleep(0)


async def consume(run: PcRun) -> None:
    while True:
        try:
            sequence, put_at = await run.queue.get()
        except QUEUE_SHUTDOWN:
            return  # Shut down and drained: the clean way out.
        if run.detailed:
            run.tracker.event(f"get {sequence}")
        if put_at is not None:
            run.latency_ns.append(round((run.loop.time() - put_at) * 1e9))
        if sequence != run.consumed:
            run.out_of_order = True
        run.consumed += 1
        run.queue.task_done()


async def producer_consumer_main(run: PcRun, tracker: harness.Tracker, termination: str) -> None:
    producer = harness.spawn(run.loop, tracker, "producer", produce(run))
    consumer = harness.spawn(run.loop, tracker, "consumer", consume(run))
    if termination == "none":
        await asyncio.gather(producer, consumer)  # The seed's program: never returns.
        return
    await producer
    tracker.event("join queue")
    await run.queue.join()
    tracker.event("joined queue")
    if termination == "cancel":
        tracker.event("cancel consumer")
        consumer.cancel()
        await asyncio.wait([consumer])  # Waits for it without raising its CancelledError.
    else:
        tracker.event("shutdown queue")
        run.queue.shutdown()
        await consumer


def run_producer_consumer(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    run = PcRun(loop, tracker, params)
    harness.run_to_completion(
        loop, params, tracker, producer_consumer_main(run, tracker, params["termination"])
    )
    if result.status == "ok" and run.consumed != run.items:
        result.fail(f"consumed {run.consumed} of {run.items} items")
    if result.status == "ok" and run.out_of_order:
        result.fail("items were consumed out of order")
    result.metrics["items"] = run.consumed
    result.metrics["max_qsize"] = run.max_qsize
    result.metrics["items_per_s"] = run.consumed * 1e9 / result.wall_ns if result.wall_ns else 0.0
    if run.consumed == run.items:  # A cut run's incomplete series reports no samples.
        result.latency_ns = run.latency_ns


SCENARIO = harness.Scenario(
    "producer_consumer",
    [
        choice("strategy", ["bounded", "join_at", "unbounded"]),
        integer("items", 1_000_000, 0, 100_000_000),
        integer("k", 10, 1, 1_000_000_000),
        choice("termination", ["cancel", "shutdown", "none"]),
        integer("sample_every", 0, 0, 1_000_000_000),
    ],
    run_producer_consumer,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
