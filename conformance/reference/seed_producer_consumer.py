"""The seed's producer and consumer ("生产者消费者"), fixed.

The producer puts 100 items and awaits queue.join() whenever qsize() >= 10.
Fixed: the seed gathered producer and consumer, and its consumer loops
forever, so the program never ended. Here the producer is awaited, then
join(), then the consumer is cancelled. Its C++ form is the producer_consumer
scenario (strategy=join_at, termination=cancel).
"""

import asyncio
import sys

import harness
from harness import integer


async def producer(queue: asyncio.Queue, items: int, k: int, largest: list) -> None:
    for i in range(items):
        await queue.put(i)
        largest[0] = max(largest[0], queue.qsize())
        if queue.qsize() >= k:
            await queue.join()


async def consumer(queue: asyncio.Queue, consumed: list) -> None:
    while True:
        item = await queue.get()
        consumed.append(item)
        queue.task_done()


async def main(loop, tracker: harness.Tracker, params: dict, consumed: list, largest: list) -> None:
    queue = asyncio.Queue()
    producing = harness.spawn(
        loop, tracker, "producer", producer(queue, params["items"], params["k"], largest)
    )
    consuming = harness.spawn(loop, tracker, "consumer", consumer(queue, consumed))
    await producing
    tracker.event("join queue")
    await queue.join()
    tracker.event("joined queue")
    tracker.event("cancel consumer")
    consuming.cancel()
    await asyncio.wait([consuming])


def run(loop, params: dict, result: harness.Result) -> None:
    tracker = harness.Tracker(result)
    consumed, largest = [], [0]
    harness.run_to_completion(loop, params, tracker, main(loop, tracker, params, consumed, largest))
    if result.status == "ok" and consumed != list(range(params["items"])):
        result.fail(f"consumed {len(consumed)} of {params['items']} items, or out of order")
    result.metrics["items"] = len(consumed)
    result.metrics["max_qsize"] = largest[0]


SCENARIO = harness.Scenario(
    "seed_producer_consumer",
    [
        integer("items", 100, 0, 100_000_000),
        integer("k", 10, 1, 1_000_000_000),
    ],
    run,
)

if __name__ == "__main__":
    sys.exit(harness.main(SCENARIO))
