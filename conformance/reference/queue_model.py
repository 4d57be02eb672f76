"""asyncio.Queue.shutdown() for interpreters older than Python 3.13, written from its docs.

Debian 12's CPython is 3.11, whose asyncio.Queue has no shutdown(), so the
oracle's termination=shutdown case would have nothing to compare the C++
Queue with. This model adds what the 3.13 documentation
(https://docs.python.org/3.13/library/asyncio-queue.html) says, on top of the
interpreter's own Queue, and nothing else:

- shutdown(immediate=False): "Put a Queue instance into a shutdown mode. The
  queue can no longer grow. Future calls to put() raise QueueShutDown.
  Currently blocked callers of put() will be unblocked and will raise
  QueueShutDown in the formerly blocked thread." and "If immediate is false
  (the default), the queue can be wound down normally with get() calls to
  extract tasks that have already been loaded. And if task_done() is called
  for each remaining task, a pending join() will be unblocked normally. Once
  the queue is empty, future calls to get() will raise QueueShutDown."
- shutdown(immediate=True): "the queue is terminated immediately. The queue is
  drained to be completely empty and the count of unfinished tasks is reduced
  by the number of tasks drained. If unfinished tasks is zero, callers of
  join() are unblocked. Also, blocked callers of get() are unblocked and will
  raise QueueShutDown because the queue is empty." (the wording of the
  corrected docs, python/cpython gh-137088).

Waiting follows the interpreter's Queue: one future per blocked caller in the
FIFO of getters or putters, woken through the loop; a waiter cancelled after
it was woken passes its turn on. test_queue_model.py checks the model against
the documented rules (SEMANTICS Q-SD-01..05), and, given a Python 3.13, checks
the same rules and the producer_consumer trace on the real Queue.
"""

import asyncio
import collections


class QueueShutDown(Exception):
    """Raised by put() and get() on a shut-down queue (asyncio.QueueShutDown in 3.13)."""


class ShutdownQueue(asyncio.Queue):
    """The interpreter's asyncio.Queue plus the documented shutdown()."""

    def __init__(self, maxsize: int = 0):
        super().__init__(maxsize)
        self._shut_down = False

    def put_nowait(self, item) -> None:
        if self._shut_down:
            raise QueueShutDown
        super().put_nowait(item)

    def get_nowait(self):
        if self._shut_down and self.empty():
            raise QueueShutDown
        return super().get_nowait()

    async def put(self, item) -> None:
        while self.full():
            if self._shut_down:
                raise QueueShutDown
            await self._wait_in(self._putters, self.full)
        self.put_nowait(item)

    async def get(self):
        while self.empty():
            if self._shut_down:
                raise QueueShutDown
            await self._wait_in(self._getters, self.empty)
        return self.get_nowait()

    def shutdown(self, immediate: bool = False) -> None:
        self._shut_down = True
        if immediate:
            while not self.empty():
                self._get()
                self.task_done()  # Releases join() when the count reaches zero.
        # Every blocked caller wakes up and looks again: it raises QueueShutDown
        # where the rules above say so.
        for waiters in (self._getters, self._putters):
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)

    async def _wait_in(self, waiters: collections.deque, still_blocked) -> None:
        """Waits for a turn in `waiters`; if cancelled once woken, passes the turn on."""
        waiter = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            waiter.cancel()
            if waiter in waiters:
                waiters.remove(waiter)
            if not still_blocked() and not waiter.cancelled():
                self._wakeup_next(waiters)
            raise


def queue_class():
    """asyncio.Queue where it has shutdown() (3.13 and later), else the model."""
    return asyncio.Queue if hasattr(asyncio.Queue, "shutdown") else ShutdownQueue


def queue_shutdown_error():
    return getattr(asyncio, "QueueShutDown", QueueShutDown)
