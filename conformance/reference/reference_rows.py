"""Python reference rows: the bench's scenarios under CPython asyncio and uvloop.

    reference_rows.py --bench build/release/bench/loopbench_bench --out python.json
    reference_rows.py --bench ... --out python.json --quick     # about 30 s, fewer sets

The parameter sets are read from `loopbench_bench --benchmark_list_tests`, so
every row has exactly the parameters of the C++ rows it stands beside; what
each scenario's figures are (the items metric, whether its latency samples
are lateness, the sleep every item waits out) from `loopbench list --json`
(--loopbench; by default the loopbench of the bench's build). Each
(scenario, parameters) runs on each loop with the reference program of
this folder, as the bench runs a scenario: a fresh loop, one untimed warm-up
run, then timed runs on the same loop until --min-time has passed. The output
has Google Benchmark's JSON shape (`--benchmark_out`): names
`<scenario>/<loop>/<params>[/large]/manual_time`, times in ms, the bench's
counters (bench/README.md), and `"loopbench_reference": "python"` in the
context so that a report marks these rows as Python references.

Exit code 0 when every row was written (a row that failed carries
error_occurred, as in Google Benchmark), 2 for bad usage.
"""

import argparse
import datetime
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time

import harness

MAX_POOLED_SAMPLES = 1 << 23  # As the bench's Recorder.
# --quick leaves out the million-item sets: asyncio takes 5-20 s on each.
QUICK_MAX_ITEMS = 100_000


def bench_cases(bench: str) -> list:
    """(scenario, params text, suffix) of every scenario benchmark, in the bench's order."""
    listing = subprocess.run(
        [bench, "--benchmark_list_tests"], capture_output=True, text=True, check=True
    ).stdout
    cases = []
    for name in listing.split():
        parts = name.removesuffix("/manual_time").split("/")
        if parts[0] == "baseline" or parts[-1] == "cold" or len(parts) < 3:
            continue
        case = (parts[0], parts[2], "/".join(parts[3:]))
        if case not in cases:
            cases.append(case)
    return cases


def scenario_facts(loopbench: str) -> dict:
    """Each scenario's descriptor from `loopbench list --json`, by name."""
    listing = subprocess.run(
        [loopbench, "list", "--json"], capture_output=True, text=True, check=True
    ).stdout
    return {facts["name"]: facts for facts in json.loads(listing)["scenarios"]}


def assignments(params_text: str) -> list:
    return [] if params_text == "defaults" else params_text.split(",")


def too_large(scenario: harness.Scenario, params: dict, max_items: int) -> bool:
    return max_items > 0 and any(
        spec.kind == "integer" and params[spec.name] > max_items for spec in scenario.params
    )


def peak_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")  # Resets only the peak-RSS mark.
    except OSError:
        pass


class Recorder:
    """The figures of one benchmark's timed iterations, as the bench's counters."""

    def __init__(self, facts: dict, sleep_ns):
        self.lateness = facts["latency_is_lateness"]
        self.items_metric = facts["items_metric"]
        self.sleep_ns = sleep_ns
        self.iterations = self.wall_ns = self.cpu_ns = self.early = 0
        self.items = 0.0
        self.metric_sums = {}
        self.samples = []

    def add(self, result: harness.Result, cpu_ns: int) -> None:
        self.iterations += 1
        self.wall_ns += result.wall_ns
        self.cpu_ns += cpu_ns
        items = result.metrics.get(self.items_metric, 0)
        self.items += items
        metrics = dict(result.metrics)
        if self.sleep_ns is not None and items > 0:
            metrics["overhead_ns_per_task"] = (result.wall_ns - self.sleep_ns) / items
        for name, value in metrics.items():
            self.metric_sums[name] = self.metric_sums.get(name, 0) + value
        if self.lateness:
            self.early += sum(1 for sample in result.latency_ns if sample < 0)
        room = MAX_POOLED_SAMPLES - min(MAX_POOLED_SAMPLES, len(self.samples))
        self.samples.extend(result.latency_ns[:room])

    def counters(self) -> dict:
        counters = {
            name: total / self.iterations
            for name, total in self.metric_sums.items()
            if name != "early_wakeups"
        }
        if self.items > 0 and self.wall_ns > 0:
            counters["items_per_s"] = self.items * 1e9 / self.wall_ns
            counters["cpu_ns_per_item"] = self.cpu_ns / self.items
        if self.samples:
            summary = harness.latency_summary(self.samples)
            counters["samples"] = summary["count"]
            for key in ("min", "p50", "p90", "p99", "p999", "max"):
                counters[f"{key}_ns"] = summary[key]
        if self.lateness:
            counters["early_wakeups"] = self.early
        elif "early_wakeups" in self.metric_sums:
            counters["early_wakeups"] = self.metric_sums["early_wakeups"]
        counters["peak_rss_mb"] = peak_rss_mb()
        return counters


def failed(result: harness.Result) -> dict:
    """The fields of a row whose run failed, as Google Benchmark writes them."""
    return {
        "error_occurred": True,
        "error_message": f"{result.status}: {result.error}",
        "iterations": 0,
        "real_time": 0.0,
        "cpu_time": 0.0,
        "time_unit": "ms",
    }


def measure(scenario: harness.Scenario, facts: dict, loop_name: str, params: dict, options) -> dict:
    """One repetition: a fresh loop, a warm-up run, then timed runs. Fields of the row."""
    sleep_ns = params[facts["sleep_param"]] if facts["sleep_param"] else None
    recorder = Recorder(facts, sleep_ns)
    loop = harness.new_loop(loop_name)
    try:
        if not options.quick:
            warm_up = harness.run(scenario, loop, params)
            if warm_up.status != "ok":
                return failed(warm_up)
        reset_peak_rss()
        while True:
            cpu_start = time.thread_time_ns()
            result = harness.run(scenario, loop, params)
            cpu_ns = time.thread_time_ns() - cpu_start
            if result.status != "ok":
                return failed(result)
            recorder.add(result, cpu_ns)
            if options.quick or recorder.wall_ns >= options.min_time * 1e9:
                break
    finally:
        loop.close()
    return {
        "iterations": recorder.iterations,
        "real_time": recorder.wall_ns / recorder.iterations / 1e6,
        "cpu_time": recorder.cpu_ns / recorder.iterations / 1e6,
        "time_unit": "ms",
        **recorder.counters(),
    }


STATISTICS = {  # Google Benchmark's aggregates, plus the bench's "min".
    "mean": (statistics.fmean, "time"),
    "median": (statistics.median, "time"),
    "stddev": (lambda values: statistics.stdev(values) if len(values) > 1 else 0.0, "time"),
    "cv": (
        lambda values: (
            statistics.stdev(values) / statistics.fmean(values)
            if len(values) > 1 and statistics.fmean(values)
            else 0.0
        ),
        "percentage",
    ),
    "min": (min, "time"),
}


def aggregates(run_name: str, family: int, rows: list) -> list:
    if len(rows) < 2 or any(row.get("error_occurred") for row in rows):
        return []
    numeric = [
        key
        for key, value in rows[0].items()
        if isinstance(value, float | int)
        and key
        not in (
            "family_index",
            "per_family_instance_index",
            "repetitions",
            "repetition_index",
            "threads",
            "iterations",
        )
    ]
    out = []
    for name, (statistic, unit) in STATISTICS.items():
        row = {
            "name": f"{run_name}_{name}",
            "family_index": family,
            "per_family_instance_index": 0,
            "run_name": run_name,
            "run_type": "aggregate",
            "repetitions": len(rows),
            "threads": 1,
            "aggregate_name": name,
            "aggregate_unit": unit,
            "iterations": len(rows),
            "time_unit": "ms",
        }
        for key in numeric:
            row[key] = statistic([float(r[key]) for r in rows])
        out.append(row)
    return out


def context(loops: list) -> dict:
    mhz = 0
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
        found = re.search(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo.read(), re.MULTILINE)
        mhz = round(float(found.group(1))) if found else 0
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host_name": socket.gethostname(),
        "executable": os.path.abspath(__file__),
        "num_cpus": os.cpu_count(),
        "mhz_per_cpu": mhz,
        "cpu_scaling_enabled": False,
        "caches": [],
        "load_avg": list(os.getloadavg()),
        "library_build_type": "release",
        "loopbench_reference": "python",
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "reference_loops": loops,
    }
    if "uvloop" in loops:
        import uvloop

        info["uvloop_version"] = uvloop.__version__
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", required=True, help="loopbench_bench, for its parameter sets")
    parser.add_argument(
        "--loopbench",
        help="loopbench, for the scenarios' facts (default: cli/loopbench of the bench's build)",
    )
    parser.add_argument("--out", required=True, help="the JSON file to write")
    parser.add_argument("--loops", default="asyncio,uvloop", help="comma-separated: asyncio,uvloop")
    parser.add_argument("--filter", default="", help="regex on <scenario>/<params>")
    parser.add_argument(
        "--min-time",
        type=float,
        default=0.5,
        help="seconds of timed runs per benchmark (at least one run)",
    )
    parser.add_argument("--repetitions", type=int, default=1)
    parser.add_argument("--include-large", action="store_true", help="also the /large sets")
    parser.add_argument(
        "--max-items",
        type=int,
        default=0,
        help="skip the sets with an integer parameter above this (0: no limit)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"one timed run per benchmark, no warm-up, no /large, --max-items {QUICK_MAX_ITEMS}",
    )
    options = parser.parse_args(argv)
    if options.quick and not options.max_items:
        options.max_items = QUICK_MAX_ITEMS
    loops = [name for name in options.loops.split(",") if name]
    unknown = [name for name in loops if name not in harness.LOOPS]
    if unknown or not loops or options.repetitions < 1:
        print(
            f"reference_rows: bad --loops '{options.loops}' or --repetitions "
            f"(loops: {', '.join(harness.LOOPS)}; repetitions >= 1)",
            file=sys.stderr,
        )
        return 2
    if not options.loopbench:
        build = os.path.dirname(os.path.dirname(os.path.abspath(options.bench)))
        options.loopbench = os.path.join(build, "cli", "loopbench")
    try:
        facts = scenario_facts(options.loopbench)
    except (OSError, subprocess.CalledProcessError) as error:
        print(
            f"reference_rows: cannot read the scenarios with {options.loopbench}: {error}",
            file=sys.stderr,
        )
        return 2
    try:
        cases = bench_cases(options.bench)
        selector = re.compile(options.filter)
        info = context(loops)
    except (OSError, subprocess.CalledProcessError) as error:
        print(
            f"reference_rows: cannot list the bench's cases with {options.bench}: {error}",
            file=sys.stderr,
        )
        return 2
    except re.error as error:
        print(f"reference_rows: bad --filter: {error}", file=sys.stderr)
        return 2
    except ImportError:
        print(
            "reference_rows: uvloop is not installed (Debian: apt-get install python3-uvloop)",
            file=sys.stderr,
        )
        return 2

    benchmarks = []
    family = 0
    for scenario_name, params_text, suffix in cases:
        if "large" in suffix.split("/") and (options.quick or not options.include_large):
            continue
        if not selector.search(f"{scenario_name}/{params_text}"):
            continue
        scenario = harness.find(scenario_name) if scenario_name in facts else None
        if scenario is None:
            print(
                f"reference_rows: {scenario_name}: no reference program, skipped", file=sys.stderr
            )
            continue
        params = scenario.parse(assignments(params_text))
        if too_large(scenario, params, options.max_items):
            print(
                f"reference_rows: {scenario_name}/{params_text}: above --max-items, skipped",
                file=sys.stderr,
            )
            continue
        for loop_name in loops:
            run_name = "/".join(
                filter(None, [scenario_name, loop_name, params_text, suffix, "manual_time"])
            )
            print(f"reference_rows: {run_name}", file=sys.stderr, flush=True)
            rows = []
            for repetition in range(options.repetitions):
                rows.append(
                    {
                        "name": run_name,
                        "family_index": family,
                        "per_family_instance_index": 0,
                        "run_name": run_name,
                        "run_type": "iteration",
                        "repetitions": options.repetitions,
                        "repetition_index": repetition,
                        "threads": 1,
                        **measure(scenario, facts[scenario_name], loop_name, params, options),
                    }
                )
            benchmarks += rows + aggregates(run_name, family, rows)
            family += 1

    with open(options.out, "w", encoding="utf-8") as out:
        json.dump({"context": info, "benchmarks": benchmarks}, out, indent=2)
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
