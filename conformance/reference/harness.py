"""What the CPython reference programs share, after scenarios/detail/harness.hpp.

Each reference program is a scenario written with plain asyncio. It reads the
same parameters as `loopbench run` (`--set name=value`, the same text forms and
defaults) and prints one JSON line in the same shape, trace included, so that
a trace from CPython and one from a C++ backend compare line by line. The
trace vocabulary is scenarios/README.md's.

Python standard library only; `--loop uvloop` needs Debian's python3-uvloop.
"""

import argparse
import asyncio
import dataclasses
import importlib
import json
import sys
import threading
import time
from typing import Callable, Optional

DETAIL_LIMIT = 16  # As kDetailLimit: larger groups are traced as summaries.

# Largest first: a duration is written in the first unit that divides it exactly.
_UNITS = [
    ("h", 3_600_000_000_000),
    ("min", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
]

LOOPS = ("asyncio", "uvloop")


class ParamError(ValueError):
    """A bad parameter name or value; the message is one line."""


def format_duration(ns: int) -> str:
    if ns == 0:
        return "0s"
    for suffix, size in _UNITS:
        if ns % size == 0:
            return f"{ns // size}{suffix}"
    return f"{ns}ns"


@dataclasses.dataclass
class Param:
    name: str
    kind: str  # "integer", "duration" or "choice"
    default: object  # int (durations in ns) or, for a choice, the list of words
    low: int = 0
    high: int = 0

    def parse(self, text: str):
        if self.kind == "choice":
            if text not in self.default:
                raise ParamError(
                    f"bad value '{text}' for {self.name}: expected one of "
                    f"{'|'.join(self.default)}"
                )
            return text
        value = self._parse_number(text)
        if not self.low <= value <= self.high:
            raise ParamError(
                f"bad value '{text}' for {self.name}: out of range "
                f"{self.text(self.low)}..{self.text(self.high)}"
            )
        return value

    def _parse_number(self, text: str) -> int:
        if self.kind == "integer":
            scale = {"k": 1_000, "M": 1_000_000}.get(text[-1:], 1)
            digits = text[:-1] if scale > 1 else text
            if not digits.isdigit():
                raise ParamError(
                    f"bad value '{text}' for {self.name}: expected an integer "
                    "with an optional k or M suffix"
                )
            return int(digits) * scale
        if text == "0":
            return 0
        for suffix, size in sorted(_UNITS, key=lambda unit: -len(unit[0])):
            number = text[: -len(suffix)]
            if text.endswith(suffix) and number.replace(".", "", 1).isdigit():
                return round(float(number) * size)
        raise ParamError(
            f"bad value '{text}' for {self.name}: expected a number and a unit "
            "(ns, us, ms, s, min, h)"
        )

    def initial(self):
        return self.default[0] if self.kind == "choice" else self.default

    def text(self, value) -> str:
        return format_duration(value) if self.kind == "duration" else str(value)

    def json_value(self, value):
        return value if self.kind == "integer" else self.text(value)


MS = 1_000_000  # Durations are in nanoseconds.
SECOND = 1_000 * MS
HOUR = 3_600 * SECOND


def integer(name: str, default: int, low: int, high: int) -> Param:
    return Param(name, "integer", default, low, high)


def duration(name: str, default_ns: int, low_ns: int = 0, high_ns: int = HOUR) -> Param:
    return Param(name, "duration", default_ns, low_ns, high_ns)


def choice(name: str, words: list) -> Param:
    """The first word is the default."""
    return Param(name, "choice", words)


def deadline_param() -> Param:
    return duration("deadline", 30 * SECOND, 1_000, 24 * HOUR)


@dataclasses.dataclass
class Scenario:
    name: str
    params: list
    # run(loop, params, result) fills the result; the harness stamps the rest.
    run: Callable

    # Every scenario has a deadline; the seed examples of seed_traces.cpp do not.
    has_deadline: bool = True

    def __post_init__(self):
        if self.has_deadline:
            self.params = [*self.params, deadline_param()]

    def parse(self, assignments) -> dict:
        specs = {spec.name: spec for spec in self.params}
        values = {spec.name: spec.initial() for spec in self.params}
        for assignment in assignments:
            name, equals, text = assignment.partition("=")
            if not equals:
                raise ParamError(f"expected name=value, got '{assignment}'")
            if name not in specs:
                raise ParamError(f"unknown parameter '{name}' (valid: {', '.join(specs)})")
            values[name] = specs[name].parse(text)
        return values


@dataclasses.dataclass
class Result:
    status: str = "ok"
    error: str = ""
    wall_ns: int = 0
    metrics: dict = dataclasses.field(default_factory=dict)
    latency_ns: list = dataclasses.field(default_factory=list)
    trace: list = dataclasses.field(default_factory=list)

    def fail(self, error: str) -> None:
        """Status error with this text; the first error wins."""
        if self.status == "ok":
            self.status, self.error = "error", error


def nearest_rank(sorted_samples: list, per_mille: int) -> int:
    rank = max(1, (per_mille * len(sorted_samples) + 999) // 1000)
    return sorted_samples[rank - 1]


def latency_summary(samples: list) -> dict:
    if not samples:
        return {"count": 0}
    ordered = sorted(samples)
    return {
        "count": len(ordered),
        "p50": nearest_rank(ordered, 500),
        "p90": nearest_rank(ordered, 900),
        "p99": nearest_rank(ordered, 990),
        "p999": nearest_rank(ordered, 999),
        "max": ordered[-1],
        "min": ordered[0],
    }


def describe_exception(error: BaseException) -> str:
    return str(error) or type(error).__name__


# --- Tracing ---------------------------------------------------------------------------------


class Activity:
    """A named unit of work, or a group of similar ones, traced as in the C++ harness.

    A member that ends by cancellation is traced "cancelled x" only once it
    really has: during the run when its body sees the CancelledError; during
    the clean-up (Tracker.begin_cleanup) afterwards, in creation order, and
    only if the task attached to it did end cancelled.
    """

    def __init__(
        self,
        tracker: "Tracker",
        name: str,
        prefix: Optional[str] = None,
        size: int = 1,
        detailed: bool = True,
    ):
        self._tracker = tracker
        self._name = name  # The unit's name, or the group's noun.
        self._single = prefix is None
        self._prefix = prefix
        self._size = size
        self._detailed = detailed
        self._states = ["created"] * size if detailed else []
        # Detailed only: the task of each member, or None.
        self._tasks = [None] * size if detailed else []
        self._started = self._ended = self._ok = self._cancelled = 0

    def _member(self, member: int) -> str:
        return self._name if self._single else f"{self._prefix}{member}"

    def _add(self, line: str) -> None:
        self._tracker.event(line)

    def started(self, member: int = 0) -> None:
        if self._detailed:
            self._states[member] = "running"
            self._add(f"start {self._member(member)}")
        elif self._started == 0:
            self._add(f"start {self._size} {self._name}")
        self._started += 1

    def start_all(self) -> None:
        if self._detailed:
            for member in range(self._size):
                self.started(member)
            return
        self._add(f"start {self._size} {self._name}")
        self._started = self._size

    def _ends(self, member: int, state: str) -> bool:
        if self._detailed:
            if self._states[member] not in ("created", "running"):
                return False
            self._states[member] = state
        self._ended += 1
        return True

    def finished(self, member: int = 0, detail: str = "") -> None:
        if not self._ends(member, "ok"):
            return
        self._ok += 1
        if self._detailed:
            self._add(f"done {self._member(member)} ok" + (f": {detail}" if detail else ""))
        elif self._ok == self._size:
            self._add(f"done {self._size} {self._name} ok")

    def failed(self, member: int, what: str) -> None:
        if self._ends(member, "failed"):
            self._add(f"done {self._member(member)} error: {what}")

    def cancelled(self, member: int = 0) -> None:
        """The member saw its cancellation: traced now, or after the clean-up during it."""
        noted = self._tracker.cleaning_up
        if not self._ends(member, "cancel_seen" if noted else "cancelled"):
            return
        self._cancelled += 1
        if self._detailed and not noted:
            self._add(f"cancelled {self._member(member)}")

    def attach(self, task: asyncio.Task, member: int = 0) -> None:
        """A summarised group keeps no tasks, as the C++ harness."""
        if self._detailed:
            self._tasks[member] = task

    def cancel_tasks(self) -> None:
        for task in self._tasks:
            if task is not None and not task.done():
                task.cancel()

    def trace_pending(self) -> None:
        if self._detailed:
            for member, state in enumerate(self._states):
                if state in ("created", "running"):
                    self._add(f"pending {self._member(member)}")
        elif self._ended < self._size:
            self._add(f"pending {self._size - self._ended} {self._name}")

    def _ended_cancelled(self, member: int) -> bool:
        task = self._tasks[member]
        if task is not None:
            return task.cancelled()
        return self._states[member] == "cancel_seen"

    def trace_cancelled_rest(self) -> None:
        if self._detailed:
            for member, state in enumerate(self._states):
                unfinished = state in ("created", "running", "cancel_seen")
                if unfinished and self._ended_cancelled(member):
                    self._states[member] = "cancelled"
                    self._add(f"cancelled {self._member(member)}")
            return
        if self._cancelled > 0:
            self._add(f"cancelled {self._cancelled} {self._name}")


class Tracker:
    """The activities of one run, in creation order, writing to its trace."""

    def __init__(self, result: Result):
        self.result = result
        self.cleaning_up = False
        self._activities = []

    def single(self, name: str) -> Activity:
        self._activities.append(Activity(self, name))
        return self._activities[-1]

    def group(self, noun: str, prefix: str, size: int, detailed: bool) -> Activity:
        self._activities.append(Activity(self, noun, prefix, size, detailed))
        return self._activities[-1]

    def event(self, text: str) -> None:
        self.result.trace.append(text)

    def trace_pending(self) -> None:
        for activity in self._activities:
            activity.trace_pending()

    def begin_cleanup(self) -> None:
        """From here on cancellations are traced after the clean-up, in creation order."""
        self.cleaning_up = True

    def cancel_tasks(self) -> None:
        for activity in self._activities:
            activity.cancel_tasks()

    def trace_cancelled_rest(self) -> None:
        for activity in self._activities:
            activity.trace_cancelled_rest()


async def _run_traced(activity: Activity, body) -> None:
    activity.started()
    try:
        await body
    except asyncio.CancelledError:
        activity.cancelled()
        raise
    except Exception as error:
        activity.failed(0, describe_exception(error))
        raise
    activity.finished()


def traced(loop, activity: Activity, body) -> asyncio.Task:
    """A task that awaits `body`, traced as `activity` (and attached to it)."""
    task = loop.create_task(_run_traced(activity, body))
    activity.attach(task)
    return task


def spawn(loop, tracker: Tracker, name: str, body) -> asyncio.Task:
    """Schedules `body` as a task traced under a new activity called `name`."""
    return traced(loop, tracker.single(name), body)


# --- Deadline and clean-up -------------------------------------------------------------------


class DeadlineGuard:
    """Stops the loop when the deadline passes, on the loop clock and on the wall clock."""

    def __init__(self, loop, limit_ns: int, tracker: Tracker):
        self._loop = loop
        self._limit_ns = limit_ns
        self._tracker = tracker
        self.expired = False
        self._active = True
        self._timer = loop.call_later(limit_ns / 1e9, self._expire)
        self._released = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        if not self._released.wait(self._limit_ns / 1e9):
            self._loop.call_soon_threadsafe(self._expire)

    def _expire(self) -> None:
        if not self._active or self.expired:
            return
        self.expired = True
        self._tracker.event(f"timeout after {format_duration(self._limit_ns)}")
        self._loop.stop()

    def release(self) -> None:
        self._timer.cancel()
        self._released.set()
        self._watchdog.join()
        self._active = False

    def record(self, result: Result) -> None:
        # An error recorded already is the more telling verdict, as in C++.
        if self.expired and result.status == "ok":
            result.status = "timeout"
            result.error = f"deadline of {format_duration(self._limit_ns)} passed"


def run_to_completion(
    loop, params: dict, tracker: Tracker, main, cancel_others: Optional[Callable] = None
) -> None:
    """Runs `main` until it finishes or the deadline passes, then cleans up as the C++ harness.

    Sets the status, error and wall_ns. When `main` did not finish, traces what
    was pending, begins the clean-up and calls `cancel_others` (timers, threads);
    then cancels leftover tasks.
    """
    result = tracker.result
    finished = False
    deadline = DeadlineGuard(loop, params["deadline"], tracker)
    start = time.perf_counter_ns()
    try:
        loop.run_until_complete(main)
        finished = True
    except RuntimeError as error:
        # The deadline's own stop; anything else stopping the loop is a bug.
        if not deadline.expired:
            result.fail(describe_exception(error))
    except Exception as error:
        result.fail(describe_exception(error))
    result.wall_ns = time.perf_counter_ns() - start
    deadline.release()
    deadline.record(result)
    if not finished:
        tracker.trace_pending()
        tracker.begin_cleanup()
        if cancel_others is not None:
            cancel_others()
    cancel_leftovers(loop, tracker)


CLEANUP_LIMIT_S = 5.0


def cancel_leftovers(loop, tracker: Tracker) -> None:
    """Cancels every pending task (the tracker's first, in creation order) and waits for them.

    In rounds, as the C++ harness: tasks started meanwhile (a handler of a
    connection accepted just then) are cancelled in the next round; the
    clean-up gives up when a round of CLEANUP_LIMIT_S ends with no task ended.
    """
    tracker.begin_cleanup()
    tracker.cancel_tasks()
    left = len(asyncio.all_tasks(loop))
    while left:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        _, pending = loop.run_until_complete(asyncio.wait(tasks, timeout=CLEANUP_LIMIT_S))
        still_left = len(asyncio.all_tasks(loop))
        if pending and still_left >= left:
            break
        left = still_left
    tracker.trace_cancelled_rest()
    if left := len(asyncio.all_tasks(loop)):
        result = tracker.result
        error = f"{left} tasks still pending {CLEANUP_LIMIT_S:g}s after their cancellation"
        result.error = error if result.status == "ok" else f"{result.error}; {error}"
        result.status = "error"


def per_item_ns(wall_ns: int, count: int) -> float:
    return wall_ns / count if count > 0 else 0.0


# --- Running ---------------------------------------------------------------------------------


def new_loop(name: str):
    if name == "uvloop":
        import uvloop  # Debian's python3-uvloop; only needed for this loop.

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def load(name: str) -> Scenario:
    return importlib.import_module(name).SCENARIO


def find(name: str) -> Optional[Scenario]:
    """The reference program of the scenario `name` (its module of this folder), or None."""
    try:
        return load(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None
        raise


def run(scenario: Scenario, loop, params: dict) -> Result:
    """Runs the scenario on a loop you own; the loop is left reusable."""
    result = Result()
    asyncio.set_event_loop(loop)
    try:
        scenario.run(loop, params, result)
    except Exception as error:
        result.fail(describe_exception(error))
    return result


def json_line(scenario: Scenario, loop_name: str, params: dict, result: Result) -> str:
    line = {
        "scenario": scenario.name,
        "backend": loop_name,
        "params": {spec.name: spec.json_value(params[spec.name]) for spec in scenario.params},
        "status": result.status,
    }
    if result.status != "ok":
        line["error"] = result.error
    line.update(
        wall_ns=result.wall_ns,
        metrics={
            name: int(value) if float(value).is_integer() else value
            for name, value in sorted(result.metrics.items())
        },
        latency_ns=latency_summary(result.latency_ns),
        trace=result.trace,
    )
    return json.dumps(line)


def main(scenario: Scenario) -> int:
    """`program.py [--loop asyncio|uvloop] [--set name=value ...]`: one JSON line.

    Exit codes as loopbench's: 0 ok, 1 timeout or error, 2 bad input.
    """
    parser = argparse.ArgumentParser(description=f"{scenario.name} on CPython asyncio")
    parser.add_argument("--loop", default="asyncio")
    parser.add_argument("--set", dest="assignments", action="append", default=[])
    args = parser.parse_args()
    try:
        if args.loop not in LOOPS:
            raise ParamError(f"unknown loop '{args.loop}' (valid: {', '.join(LOOPS)})")
        params = scenario.parse(args.assignments)
    except ParamError as error:
        print(f"{scenario.name}: {error}", file=sys.stderr)
        return 2
    try:
        loop = new_loop(args.loop)
    except ImportError:
        print(
            f"{scenario.name}: uvloop is not installed (Debian: apt-get install python3-uvloop)",
            file=sys.stderr,
        )
        return 2
    try:
        result = run(scenario, loop, params)
    finally:
        loop.close()
    print(json_line(scenario, args.loop, params, result), flush=True)
    return 0 if result.status == "ok" else 1
