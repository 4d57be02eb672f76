"""The differential test: every backend's trace against CPython asyncio's.

    differential.py --loopbench build/release/cli/loopbench \
                    --seed-traces build/release/conformance/reference/seed_traces [CASE...]
    differential.py --list

A case runs one reference program here (a scenario's, or a seed example's)
under CPython and the matching `loopbench run SCENARIO --backend all --json
--repetitions 1 --warmup 0` (or `seed_traces run EXAMPLE ...` for the seed
examples without a scenario form) with the same parameters, then requires, for every backend, the same status,
the same trace and the same deterministic metrics as CPython's. Parameters
are chosen so that the trace is exact on every backend: virtual time (sim) or
deadlines far enough apart that load cannot reorder them.

Which backends run a case follows from their traits (`loopbench list --json`):
every available backend must report, a backend that has what the case needs
must be compared, and one that lacks it must say so with the scenario's
capability error ("compat"); any other outcome fails.

Normalisation, and only where asyncio leaves the order undefined (README.md):
a maximal run of consecutive events that a case declares unordered is sorted,
on both sides: timers with exactly equal deadlines (on virtual time), and
connections whose readiness the I/O engine orders. Each place says which
CPython experiment shows that the order is undefined.

A difference is reported as the first differing event, with its index and
both lines. Exit code 0 if every backend matched, 1 if one did not, 2 bad usage.
"""

import argparse
import dataclasses
import itertools
import json
import os
import re
import subprocess
import sys
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))

# How a scenario says that a backend lacks one of the traits it needs
# (scenarios/README.md): real threads, and socket I/O (loops/core/streams.cpp
# names the backend).
CAPABILITY_ERRORS = {
    "threads": "needs real threads",
    "io": "backend {backend} has no socket I/O",
}

END_OF_TRACE = "<end of trace>"


@dataclasses.dataclass
class Case:
    name: str
    program: str  # A reference program in this folder, without ".py".
    scenario: str  # The scenario (or seed_traces example) it matches.
    params: tuple = ()
    # Event prefixes whose consecutive runs have no defined order in asyncio.
    unordered: tuple = ()
    # Metrics that are the same on every correct loop (counts, queue sizes).
    metrics: tuple = ()
    # The backend traits the scenario needs (BackendTraits: "threads", "io").
    needs: tuple = ()
    # Event prefixes unordered on virtual time only (traits real_time false).
    unordered_on_virtual_time: tuple = ()
    # loopbench only: the scenario's variant that the program is (a seed example's).
    variant: tuple = ()
    # What runs the C++ side: "loopbench", or "seed_traces" for the seed
    # examples that have no scenario form.
    runner: str = "loopbench"

    def unordered_for(self, traits: dict) -> tuple:
        if traits["real_time"]:
            return self.unordered
        return self.unordered + self.unordered_on_virtual_time


def scenario_case(
    name: str,
    scenario: str,
    params: tuple,
    unordered: tuple = (),
    metrics: tuple = (),
    needs: tuple = (),
    unordered_on_virtual_time: tuple = (),
) -> Case:
    """A case of a scenario's own reference program."""
    return Case(
        name, scenario, scenario, params, unordered, metrics, needs, unordered_on_virtual_time
    )


# Sleepers that start in one iteration: on a real clock each reads the time
# when it starts, so their deadlines differ by microseconds and asyncio fires
# them in deadline order, t0 first (20 runs of parallel_sleeps.py with n=16
# under CPython 3.11: "done t0" .. "done t15" every time). On virtual time
# they start at the same instant: equal deadlines, whose order asyncio leaves
# undefined (D-EL call_at: "the order in which they are called is undefined";
# 20 call_at() at one instant fire under CPython 3.11 and 3.13 as [0, 2, 6, 14,
# 13, 19, 18, 17, 16, 15, 5, 11, 12, 10, 9, 8, 7, 1, 3, 4], the heap's order).
SLEEPERS_UNORDERED_ON_VIRTUAL_TIME = ("done t",)
# Connections that finish together: which socket is ready first is the I/O
# engine's choice, not asyncio's. The same programs finish in index order on
# CPython's selector loop and, every time, as client1, client0, client2
# (tcp_echo.py c=3) and request3, 1, 4, 2, 0 (fetch_many.py n=5) on uvloop
# (0.17, 10 runs each).
CLIENTS_UNORDERED = ("done client",)
REQUESTS_UNORDERED = ("done request",)
ECHO_COUNTS = ("connections", "message_bytes", "round_trips")
SLEEP_COUNTS = ("tasks", "early_wakeups")

SOCKETS = ("io",)
THREADS = ("threads",)

CASES = [
    scenario_case(
        "parallel_sleeps",
        "parallel_sleeps",
        ("n=16", "duration=100ms"),
        metrics=SLEEP_COUNTS,
        unordered_on_virtual_time=SLEEPERS_UNORDERED_ON_VIRTUAL_TIME,
    ),
    scenario_case(
        "parallel_sleeps_timeout",
        "parallel_sleeps",
        ("n=3", "duration=10s", "deadline=1s"),
        metrics=SLEEP_COUNTS,
    ),
    scenario_case(
        "parallel_sleeps_summarised",
        "parallel_sleeps",
        ("n=100", "duration=50ms"),
        metrics=SLEEP_COUNTS,
    ),
    scenario_case(
        "parallel_sleeps_summarised_timeout",
        "parallel_sleeps",
        ("n=40", "duration=10s", "deadline=1s"),
        metrics=SLEEP_COUNTS,
    ),
    scenario_case("gather_flat", "gather", ("mode=flat", "n=10"), metrics=("tasks",)),
    # Children that finish last first: the results still come in argument order.
    scenario_case(
        "gather_staggered",
        "gather",
        ("mode=staggered", "n=6"),
        metrics=("tasks", "results_in_order"),
    ),
    scenario_case(
        "gather_staggered_summarised",
        "gather",
        ("mode=staggered", "n=40"),
        metrics=("tasks", "results_in_order"),
    ),
    scenario_case(
        "gather_tree", "gather", ("mode=tree", "depth=3", "branching=3"), metrics=("tasks",)
    ),
    scenario_case(
        "gather_tree_sleeping_leaves",
        "gather",
        ("mode=tree", "depth=2", "branching=4", "leaf_sleep=20ms"),
        metrics=("tasks",),
    ),
    scenario_case(
        "gather_tree_timeout",
        "gather",
        ("mode=tree", "depth=2", "branching=3", "leaf_sleep=10s", "deadline=1s"),
    ),
    # b sleeps far longer than a: however late a's wake-up, b cannot join its batch.
    scenario_case("stop_race_naive", "stop_race", ("variant=naive", "sleep_a=50ms", "sleep_b=10s")),
    scenario_case(
        "stop_race_fixed", "stop_race", ("variant=fixed", "sleep_a=50ms", "sleep_b=300ms")
    ),
    # Both woken in one batch by one sleep's done callbacks: stop() lets the batch finish.
    scenario_case("stop_race_same_batch", "stop_race", ("variant=same_batch", "sleep_a=50ms")),
    *(
        scenario_case(
            f"producer_consumer_{strategy}{suffix}",
            "producer_consumer",
            (f"strategy={strategy}", f"items={items}", "k=3", f"termination={termination}"),
            metrics=("items", "max_qsize"),
        )
        # Up to 16 items every put, get and join is traced; beyond, the counts.
        for strategy in ("bounded", "join_at", "unbounded")
        for termination in ("cancel", "shutdown")
        for items, suffix in (
            (12, f"_{termination}"),
            (200, f"_{termination}_summarised"),
        )
    ),
    scenario_case(
        "producer_consumer_endless",
        "producer_consumer",
        ("strategy=join_at", "items=30", "k=10", "termination=none", "deadline=1s"),
        metrics=("max_qsize",),
    ),
    scenario_case(
        "producer_consumer_endless_detailed",
        "producer_consumer",
        ("strategy=bounded", "items=8", "k=3", "termination=none", "deadline=1s"),
        metrics=("items", "max_qsize"),
    ),
    scenario_case("timer_storm", "timer_storm", ("n=1000", "spread=50ms"), metrics=("timers",)),
    # Every firing, 50 ms apart; then 62.5 us apart, so that several are due at once.
    scenario_case(
        "timer_storm_detailed", "timer_storm", ("n=10", "spread=500ms"), metrics=("timers",)
    ),
    scenario_case("timer_storm_close", "timer_storm", ("n=16", "spread=1ms"), metrics=("timers",)),
    scenario_case(
        "timer_storm_timeout",
        "timer_storm",
        ("n=5", "spread=100s", "deadline=1s"),
        metrics=("timers",),
    ),
    scenario_case(
        "threadsafe_pingpong",
        "threadsafe_pingpong",
        ("rounds=100",),
        metrics=("round_trips",),
        needs=THREADS,
    ),
    scenario_case("callback_chain", "callback_chain", ("n=1000",), metrics=("callbacks",)),
    # A busy loop: on virtual time only the wall-clock watchdog can end it.
    scenario_case("callback_chain_timeout", "callback_chain", ("n=100M", "deadline=100ms")),
    scenario_case(
        "sleep_precision",
        "sleep_precision",
        ("n=5", "duration=2ms"),
        metrics=("sleeps", "early_wakeups"),
    ),
    # Real sockets on 127.0.0.1: sim has none and says so (compat).
    scenario_case(
        "tcp_echo",
        "tcp_echo",
        ("c=3", "s=64", "m=20"),
        CLIENTS_UNORDERED,
        ECHO_COUNTS,
        SOCKETS,
    ),
    scenario_case(
        "tcp_echo_summarised", "tcp_echo", ("c=20", "s=100", "m=5"), (), ECHO_COUNTS, SOCKETS
    ),
    # Messages far larger than a socket buffer: each arrives in parts.
    scenario_case(
        "tcp_echo_large", "tcp_echo", ("c=1", "s=300000", "m=3"), (), ECHO_COUNTS, SOCKETS
    ),
    scenario_case(
        "tcp_echo_timeout",
        "tcp_echo",
        ("c=2", "m=10M", "deadline=1s"),
        (),
        ("connections", "message_bytes"),
        SOCKETS,
    ),
    scenario_case(
        "fetch_many", "fetch_many", ("n=5", "s=64"), REQUESTS_UNORDERED, ("requests",), SOCKETS
    ),
    scenario_case(
        "fetch_many_delayed",
        "fetch_many",
        ("n=4", "s=10", "delay=20ms"),
        REQUESTS_UNORDERED,
        ("requests",),
        SOCKETS,
    ),
    # Requests far larger than a socket buffer: the server's read_exactly
    # must wait for every part of each.
    scenario_case(
        "fetch_many_large",
        "fetch_many",
        ("n=2", "s=300000"),
        REQUESTS_UNORDERED,
        ("requests",),
        SOCKETS,
    ),
    # The deadline passes during the lone first request: no concurrent one starts.
    scenario_case(
        "fetch_many_timeout",
        "fetch_many",
        ("n=3", "delay=10s", "deadline=1s"),
        (),
        ("requests",),
        SOCKETS,
    ),
    # The seed's examples, fixed (seed_*.py), against their C++ form: a
    # scenario, or seed_traces.cpp. Their seconds are scaled to tenths, as in
    # seed_examples.cpp, but for the stop race's slower task: 2 s, so that no
    # load wakes it in the batch of the task that stops the loop.
    Case(
        "seed_run_forever_stop",
        "seed_run_forever_stop",
        "stop_race",
        ("sleep_a=100ms", "sleep_b=2s"),
        variant=("variant=naive",),
    ),
    Case(
        "seed_gather_stop",
        "seed_gather_stop",
        "stop_race",
        ("sleep_a=100ms", "sleep_b=300ms"),
        variant=("variant=fixed",),
    ),
    Case(
        "seed_concurrent",
        "seed_concurrent",
        "seed_concurrent",
        ("n=4", "duration=100ms"),
        metrics=("tasks",),
        unordered_on_virtual_time=SLEEPERS_UNORDERED_ON_VIRTUAL_TIME,
        runner="seed_traces",
    ),
    *(
        Case(name, name, name, params, runner="seed_traces")
        for name, params in [
            ("seed_simple_coroutine", ()),
            ("seed_await_sleep", ("sleep=100ms",)),
            ("seed_run_until_complete", ("sleep=100ms",)),
            ("seed_close_loop", ("sleep=20ms",)),
        ]
    ),
    Case(
        "seed_producer_consumer",
        "seed_producer_consumer",
        "producer_consumer",
        ("items=100", "k=10"),
        (),
        ("items", "max_qsize"),
        variant=("strategy=join_at", "termination=cancel"),
    ),
]


def find_case(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


# --- Comparison ------------------------------------------------------------------------------


def normalise(trace: list, unordered: tuple) -> list:
    """Sorts each maximal run of consecutive events that start with one unordered prefix."""

    def unordered_prefix(event: str) -> Optional[str]:
        return next((prefix for prefix in unordered if event.startswith(prefix)), None)

    out = []
    for prefix, events in itertools.groupby(trace, key=unordered_prefix):
        out.extend(sorted(events) if prefix is not None else events)
    return out


def first_difference(expected: list, actual: list) -> Optional[str]:
    """None if equal, else which event differs first: its index and both lines."""
    for index in range(max(len(expected), len(actual))):
        want = expected[index] if index < len(expected) else END_OF_TRACE
        got = actual[index] if index < len(actual) else END_OF_TRACE
        if want != got:
            return f"first difference at event {index}: CPython '{want}', backend '{got}'"
    return None


def compare(case: Case, reference: dict, backend: dict, traits: dict) -> tuple:
    """("ok" | "compat" | "FAIL", explanation) for one backend's result, given its traits."""
    error = backend.get("error", "")
    lacking = [need for need in case.needs if not traits[need]]
    if lacking:
        # The traits say the backend cannot run this: it must say so, and only so.
        expected = CAPABILITY_ERRORS[lacking[0]].format(backend=backend["backend"])
        if backend["status"] == "error" and error.startswith(expected):
            return "compat", error
        return "FAIL", (
            f"its traits lack {', '.join(lacking)}, so it must fail with '{expected}...'; "
            f"got status {backend['status']} ({error or 'no error'})"
        )
    if backend["status"] != reference["status"]:
        return "FAIL", (
            f"status {backend['status']} ({error or 'no error'}), CPython "
            f"{reference['status']} ({reference.get('error') or 'no error'})"
        )
    unordered = case.unordered_for(traits)
    difference = first_difference(
        normalise(reference["trace"], unordered), normalise(backend["trace"], unordered)
    )
    if difference is not None:
        return "FAIL", difference
    for metric in case.metrics:
        want, got = reference["metrics"].get(metric), backend["metrics"].get(metric)
        if want != got:
            return "FAIL", f"metric {metric}: CPython {want}, backend {got}"
    return "ok", f"{len(backend['trace'])} events equal"


# --- Running ---------------------------------------------------------------------------------


def set_args(params: tuple) -> list:
    return [word for param in params for word in ("--set", param)]


def run_json(command: list, timeout_s: float) -> tuple:
    """(one dict per JSON line on stdout, the lines of stderr)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode not in (0, 1):  # 1: a run timed out or failed, which may be expected.
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return lines, done.stderr.splitlines()


def json_lines(command: list, timeout_s: float) -> list:
    return run_json(command, timeout_s)[0]


# One run per backend on a new loop, as CPython runs its program once:
# `loopbench run` otherwise warms up and repeats (seed_traces always runs once).
ONE_COLD_RUN = {"loopbench": ("--repetitions", "1", "--warmup", "0"), "seed_traces": ()}

# How `loopbench run --backend all` says that it left out a backend which
# cannot run the scenario (no threads, no sockets).
SKIP_LINE = re.compile(r"^loopbench: skipping (?P<scenario>\S+) on (?P<backend>\S+): (?P<why>.*)$")


def skipped_as_results(stderr: list) -> list:
    """The backends `--backend all` skipped, as results that failed with the reason it gave,
    so that the traits must explain each skip as they explain a capability error."""
    results = []
    for line in stderr:
        match = SKIP_LINE.match(line)
        if match:
            results.append(
                {"backend": match["backend"], "status": "error", "error": match["why"], "trace": []}
            )
    return results


def backend_traits(loopbench: str, timeout_s: float) -> dict:
    """Each available backend's traits, by name, from `loopbench list --json`."""
    listing = json_lines([loopbench, "list", "--json"], timeout_s)[0]
    return {entry["name"]: entry["traits"] for entry in listing["backends"] if entry["available"]}


def run_case(case: Case, runners: dict, traits: dict, timeout_s: float, out) -> bool:
    """True if every available backend ran or declined the case as its traits say, and
    every one that ran matched CPython."""
    reference = json_lines(
        [sys.executable, os.path.join(HERE, case.program + ".py"), *set_args(case.params)],
        timeout_s,
    )[0]
    ran, stderr = run_json(
        [
            runners[case.runner],
            "run",
            case.scenario,
            "--backend",
            "all",
            "--json",
            "--quiet",
            *ONE_COLD_RUN[case.runner],
            *set_args(case.variant + case.params),
        ],
        timeout_s,
    )
    backends = ran + skipped_as_results(stderr)
    print(f"{case.name}: CPython {reference['status']}, trace {reference['trace']}", file=out)
    failed = 0
    for backend in backends:
        verdict, explanation = compare(case, reference, backend, traits[backend["backend"]])
        print(f"  {verdict:6} {backend['backend']}: {explanation}", file=out)
        if verdict == "FAIL":
            print(f"         backend trace {backend['trace']}", file=out)
            failed += 1
    reported = [backend["backend"] for backend in backends]
    if sorted(reported) != sorted(traits):
        print(f"  FAIL   backends that reported {reported}, available {sorted(traits)}", file=out)
        failed += 1
    return failed == 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Every backend's trace against CPython's.")
    parser.add_argument("--loopbench", help="the loopbench binary (build/release/cli/loopbench)")
    parser.add_argument(
        "--seed-traces", help="the seed_traces binary (build/release/conformance/reference/)"
    )
    parser.add_argument("--list", action="store_true", help="print the case names and exit")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per command")
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(case.name for case in CASES))
        return 0
    try:
        cases = [find_case(name) for name in args.cases] if args.cases else CASES
    except KeyError as unknown:
        print(
            f"differential: unknown case {unknown} (valid: "
            f"{', '.join(case.name for case in CASES)})",
            file=sys.stderr,
        )
        return 2
    runners = {"loopbench": args.loopbench, "seed_traces": args.seed_traces}
    # loopbench also tells the backends' traits, so every run needs it.
    for runner in sorted({"loopbench", *(case.runner for case in cases)}):
        if not runners[runner] or not os.access(runners[runner], os.X_OK):
            print(
                f"differential: --{runner.replace('_', '-')} must name the {runner} binary "
                f"(build/release/...), got '{runners[runner]}'",
                file=sys.stderr,
            )
            return 2
    traits = backend_traits(args.loopbench, args.timeout)
    outcomes = [run_case(case, runners, traits, args.timeout, sys.stdout) for case in cases]
    return 0 if all(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
