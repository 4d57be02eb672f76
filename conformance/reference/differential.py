"""The differential test: every backend's trace against CPython asyncio's.

    differential.py --loopbench build/release/cli/loopbench \
                    --seed-traces build/release/conformance/reference/seed_traces [CASE...]
    differential.py --list

A case runs one reference program here (a scenario's, or a seed example's)
under CPython and the matching `loopbench run SCENARIO --backend all --json`
(or `seed_traces run EXAMPLE ...` for the seed examples without a scenario
form) with the same parameters, then requires, for every backend, the same status,
the same trace and the same deterministic metrics as CPython's. Parameters
are chosen so that the trace is exact on every backend: virtual time (sim) or
deadlines far enough apart that load cannot reorder them.

Normalisation, and only this (README.md):
- unordered runs: where asyncio leaves the order undefined (timers with equal
  deadlines, e.g. n sleepers of the same duration; connections that finish
  together, whose order is the kernel's), a maximal run of consecutive events
  that a case declares unordered is sorted, on both sides;
- capability results: a backend that lacks what the scenario needs reports an
  error result whose text starts as CAPABILITY_ERRORS says (the virtual-time
  backend: "needs real threads", "backend sim has no socket I/O"); that
  backend is reported as compat and not compared. At least one backend must
  be compared.

A difference is reported as the first differing event, with its index and
both lines. Exit code 0 if every backend matched, 1 if one did not, 2 bad
usage, 77 (CTest's SKIP_RETURN_CODE) if CPython here cannot run a case.
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

# Errors by which a backend reports a missing capability (scenarios/README.md):
# threads, and socket I/O (loops/core/streams.cpp names the backend).
CAPABILITY_ERRORS = re.compile(r"needs real threads|backend \S+ has no socket I/O")

END_OF_TRACE = "<end of trace>"
EXIT_SKIPPED = 77


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
    # Why CPython cannot run this case here, or None.
    unsupported: Optional[str] = None
    # loopbench only: the scenario's variant that the program is (a seed example's).
    variant: tuple = ()
    # What runs the C++ side: "loopbench", or "seed_traces" for the seed
    # examples that have no scenario form.
    runner: str = "loopbench"


def _queue_shutdown_missing() -> Optional[str]:
    if sys.version_info >= (3, 13):
        return None
    return f"asyncio.Queue.shutdown() needs Python 3.13; this is {sys.version.split()[0]}"


def scenario_case(
    name: str,
    scenario: str,
    params: tuple,
    unordered: tuple = (),
    metrics: tuple = (),
    unsupported: Optional[str] = None,
) -> Case:
    """A case of a scenario's own reference program."""
    return Case(name, scenario, scenario, params, unordered, metrics, unsupported)


SLEEPERS_UNORDERED = ("done t",)  # Equal durations: equal deadlines.
# Connections that finish together: which socket is ready first is the kernel's
# and the poller's choice, not the loop's semantics.
CLIENTS_UNORDERED = ("done client",)
REQUESTS_UNORDERED = ("done request",)
ECHO_COUNTS = ("connections", "message_bytes", "round_trips")

CASES = [
    scenario_case(
        "parallel_sleeps",
        "parallel_sleeps",
        ("n=4", "duration=100ms"),
        SLEEPERS_UNORDERED,
        ("tasks",),
    ),
    scenario_case(
        "parallel_sleeps_timeout",
        "parallel_sleeps",
        ("n=3", "duration=10s", "deadline=100ms"),
        (),
        ("tasks",),
    ),
    scenario_case(
        "parallel_sleeps_summarised", "parallel_sleeps", ("n=100", "duration=50ms"), (), ("tasks",)
    ),
    scenario_case("gather_flat", "gather", ("mode=flat", "n=10"), (), ("tasks",)),
    scenario_case("gather_tree", "gather", ("mode=tree", "depth=3", "branching=3"), (), ("tasks",)),
    scenario_case(
        "gather_tree_sleeping_leaves",
        "gather",
        ("mode=tree", "depth=2", "branching=4", "leaf_sleep=20ms"),
        (),
        ("tasks",),
    ),
    scenario_case(
        "gather_tree_timeout",
        "gather",
        ("mode=tree", "depth=2", "branching=3", "leaf_sleep=10s", "deadline=100ms"),
    ),
    scenario_case(
        "stop_race_naive", "stop_race", ("variant=naive", "sleep_a=50ms", "sleep_b=300ms")
    ),
    scenario_case(
        "stop_race_fixed", "stop_race", ("variant=fixed", "sleep_a=50ms", "sleep_b=300ms")
    ),
    scenario_case(
        "producer_consumer_bounded",
        "producer_consumer",
        ("strategy=bounded", "items=200", "k=7"),
        (),
        ("items", "max_qsize"),
    ),
    scenario_case(
        "producer_consumer_join_at",
        "producer_consumer",
        ("strategy=join_at", "items=200", "k=7"),
        (),
        ("items", "max_qsize"),
    ),
    scenario_case(
        "producer_consumer_unbounded",
        "producer_consumer",
        ("strategy=unbounded", "items=200"),
        (),
        ("items", "max_qsize"),
    ),
    scenario_case(
        "producer_consumer_shutdown",
        "producer_consumer",
        ("strategy=bounded", "items=50", "k=3", "termination=shutdown"),
        (),
        ("items", "max_qsize"),
        _queue_shutdown_missing(),
    ),
    scenario_case(
        "producer_consumer_endless",
        "producer_consumer",
        ("strategy=join_at", "items=30", "k=10", "termination=none", "deadline=500ms"),
        (),
        ("max_qsize",),
    ),
    scenario_case("timer_storm", "timer_storm", ("n=1000", "spread=50ms"), (), ("timers",)),
    scenario_case(
        "threadsafe_pingpong", "threadsafe_pingpong", ("rounds=100",), (), ("round_trips",)
    ),
    scenario_case("callback_chain", "callback_chain", ("n=1000",), (), ("callbacks",)),
    # A busy loop: on virtual time only the wall-clock watchdog can end it.
    scenario_case("callback_chain_timeout", "callback_chain", ("n=100M", "deadline=100ms")),
    scenario_case("sleep_precision", "sleep_precision", ("n=5", "duration=2ms"), (), ("sleeps",)),
    # Real sockets on 127.0.0.1: sim has none and reports that (compat).
    scenario_case("tcp_echo", "tcp_echo", ("c=3", "s=64", "m=20"), CLIENTS_UNORDERED, ECHO_COUNTS),
    scenario_case("tcp_echo_summarised", "tcp_echo", ("c=20", "s=100", "m=5"), (), ECHO_COUNTS),
    scenario_case(
        "tcp_echo_timeout",
        "tcp_echo",
        ("c=2", "m=10M", "deadline=100ms"),
        (),
        ("connections", "message_bytes"),
    ),
    scenario_case("fetch_many", "fetch_many", ("n=5", "s=64"), REQUESTS_UNORDERED, ("requests",)),
    scenario_case(
        "fetch_many_delayed",
        "fetch_many",
        ("n=4", "s=10", "delay=20ms"),
        REQUESTS_UNORDERED,
        ("requests",),
    ),
    # The deadline passes during the lone first request: no concurrent one starts.
    scenario_case(
        "fetch_many_timeout",
        "fetch_many",
        ("n=3", "delay=10s", "deadline=100ms"),
        (),
        ("requests",),
    ),
    # The seed's examples, fixed (seed_*.py), against the scenario that is their C++ form.
    # Their seconds are scaled to tenths, as in seed_examples.cpp.
    Case(
        "seed_concurrent",
        "seed_concurrent",
        "parallel_sleeps",
        ("n=4", "duration=100ms"),
        SLEEPERS_UNORDERED,
        ("tasks",),
    ),
    Case(
        "seed_run_forever_stop",
        "seed_run_forever_stop",
        "stop_race",
        ("sleep_a=100ms", "sleep_b=200ms"),
        variant=("variant=naive",),
    ),
    Case(
        "seed_gather_stop",
        "seed_gather_stop",
        "stop_race",
        ("sleep_a=100ms", "sleep_b=300ms"),
        variant=("variant=fixed",),
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


def compare(case: Case, reference: dict, backend: dict) -> tuple:
    """("ok" | "compat" | "FAIL", explanation) for one backend's result."""
    error = backend.get("error", "")
    if backend["status"] == "error" and CAPABILITY_ERRORS.match(error):
        return "compat", error
    if backend["status"] != reference["status"]:
        return "FAIL", (
            f"status {backend['status']} ({error or 'no error'}), CPython "
            f"{reference['status']} ({reference.get('error') or 'no error'})"
        )
    difference = first_difference(
        normalise(reference["trace"], case.unordered), normalise(backend["trace"], case.unordered)
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


def json_lines(command: list, timeout_s: float) -> list:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode not in (0, 1):  # 1: a run timed out or failed, which may be expected.
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def run_case(case: Case, runners: dict, timeout_s: float, out) -> Optional[bool]:
    """True if every backend matched CPython, None if CPython cannot run the case here."""
    if case.unsupported is not None:
        print(f"{case.name}: skipped: {case.unsupported}", file=out)
        return None
    reference = json_lines(
        [sys.executable, os.path.join(HERE, case.program + ".py"), *set_args(case.params)],
        timeout_s,
    )[0]
    backends = json_lines(
        [
            runners[case.runner],
            "run",
            case.scenario,
            "--backend",
            "all",
            "--json",
            "--quiet",
            *set_args(case.variant + case.params),
        ],
        timeout_s,
    )
    print(f"{case.name}: CPython {reference['status']}, trace {reference['trace']}", file=out)
    compared = failed = 0
    for backend in backends:
        verdict, explanation = compare(case, reference, backend)
        print(f"  {verdict:6} {backend['backend']}: {explanation}", file=out)
        if verdict == "FAIL":
            print(f"         backend trace {backend['trace']}", file=out)
            failed += 1
        compared += verdict != "compat"
    if compared == 0:
        print("  FAIL   no backend was compared", file=out)
        return False
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
    for runner in sorted({case.runner for case in cases}):
        if not runners[runner] or not os.access(runners[runner], os.X_OK):
            print(
                f"differential: --{runner.replace('_', '-')} must name the {runner} binary "
                f"(build/release/...), got '{runners[runner]}'",
                file=sys.stderr,
            )
            return 2
    outcomes = [run_case(case, runners, args.timeout, sys.stdout) for case in cases]
    if False in outcomes:
        return 1
    return EXIT_SKIPPED if None in outcomes else 0


if __name__ == "__main__":
    sys.exit(main())
