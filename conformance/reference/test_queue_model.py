"""queue_model.ShutdownQueue keeps the documented Queue.shutdown() rules (SEMANTICS Q-SD-*).

    python3 -m unittest test_queue_model
    LOOPBENCH_PYTHON313=/path/to/python3.13 python3 -m unittest test_queue_model

On Python 3.13 and later queue_model.queue_class() is asyncio.Queue itself, so
the same checks then hold the real Queue to the rules. Given a Python 3.13
(LOOPBENCH_PYTHON313, or a python3.13 that runs), AgainstPython313 does just
that and compares producer_consumer.py's termination=shutdown traces under
both interpreters.
"""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import unittest

import queue_model

HERE = os.path.dirname(os.path.abspath(__file__))
Queue = queue_model.queue_class()
QueueShutDown = queue_model.queue_shutdown_error()


def run(coroutine):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


async def within_a_second(awaitable):
    """A check that would otherwise hang when a waiter is never woken."""
    return await asyncio.wait_for(awaitable, 1.0)


async def next_iterations(count: int = 2) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


class ShutdownRules(unittest.TestCase):
    def test_put_raises_and_blocked_putters_wake_with_the_error(self):  # Q-SD-01
        async def check():
            queue = Queue(maxsize=1)
            queue.put_nowait(1)
            blocked = asyncio.get_running_loop().create_task(queue.put(2))
            await next_iterations()
            queue.shutdown()
            with self.assertRaises(QueueShutDown):
                await within_a_second(blocked)
            with self.assertRaises(QueueShutDown):
                queue.put_nowait(3)
            with self.assertRaises(QueueShutDown):
                await queue.put(3)
            self.assertEqual(queue.qsize(), 1)

        run(check())

    def test_graceful_shutdown_drains_then_get_raises(self):  # Q-SD-02
        async def check():
            queue = Queue()
            waiting = asyncio.get_running_loop().create_task(queue.get())
            await next_iterations()
            queue.shutdown()
            with self.assertRaises(QueueShutDown):
                await within_a_second(waiting)

            queue = Queue()
            queue.put_nowait("a")
            queue.put_nowait("b")
            queue.shutdown()
            self.assertEqual(await queue.get(), "a")
            self.assertEqual(queue.get_nowait(), "b")
            with self.assertRaises(QueueShutDown):
                queue.get_nowait()
            with self.assertRaises(QueueShutDown):
                await queue.get()

        run(check())

    def test_graceful_shutdown_keeps_the_join_contract(self):  # Q-SD-03
        async def check():
            queue = Queue()
            queue.put_nowait(1)
            queue.put_nowait(2)
            joining = asyncio.get_running_loop().create_task(queue.join())
            queue.shutdown()
            for _ in range(2):
                await queue.get()
                await next_iterations()
                self.assertFalse(joining.done())
                queue.task_done()
            await next_iterations()
            self.assertTrue(joining.done())

        run(check())

    def test_immediate_shutdown_discards_and_counts_down(self):  # Q-SD-04, Q-SD-05
        async def check():
            queue = Queue()
            for item in range(3):
                queue.put_nowait(item)
            await queue.get()
            joining = asyncio.get_running_loop().create_task(queue.join())
            queue.shutdown(immediate=True)
            self.assertEqual(queue.qsize(), 0)
            await next_iterations()
            self.assertFalse(joining.done(), "an item taken but not task_done() holds join()")
            queue.task_done()
            await next_iterations()
            self.assertTrue(joining.done())
            with self.assertRaises(ValueError):
                queue.task_done()
            with self.assertRaises(QueueShutDown):
                await queue.get()

        run(check())


def python313():
    """A Python 3.13 or later to check against, or None."""
    for candidate in (os.environ.get("LOOPBENCH_PYTHON313"), shutil.which("python3.13")):
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import asyncio; asyncio.Queue.shutdown"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return candidate
    return None


PYTHON313 = python313()


@unittest.skipUnless(PYTHON313, "no Python 3.13 here (set LOOPBENCH_PYTHON313)")
class AgainstPython313(unittest.TestCase):
    def test_the_rules_hold_for_the_real_queue(self):
        done = subprocess.run(
            [PYTHON313, "-m", "unittest", "test_queue_model.ShutdownRules"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=False,
        )
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_producer_consumer_traces_agree(self):
        for strategy in ("bounded", "join_at", "unbounded"):
            args = [
                os.path.join(HERE, "producer_consumer.py"),
                *("--set", f"strategy={strategy}", "--set", "items=10", "--set", "k=3"),
                *("--set", "termination=shutdown"),
            ]
            lines = [
                json.loads(subprocess.run([python, *args], capture_output=True, check=True).stdout)
                for python in (sys.executable, PYTHON313)
            ]
            self.assertEqual(lines[0]["trace"], lines[1]["trace"], strategy)
            self.assertEqual(lines[0]["metrics"]["max_qsize"], lines[1]["metrics"]["max_qsize"])


if __name__ == "__main__":
    unittest.main()
