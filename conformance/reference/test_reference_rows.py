"""reference_rows.py writes Google-Benchmark-shaped rows for the bench's own parameter sets.

    python3 -m unittest test_reference_rows

A stand-in for loopbench_bench lists a few small benchmarks, so that the real
reference programs run in well under a second; the scenarios' facts come from
the real loopbench (environment variable LOOPBENCH).
"""

import json
import os
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

LISTING = [
    "callback_chain/epoll/n=1000/manual_time",
    "callback_chain/sim/n=1000/manual_time",
    "gather/epoll/mode=tree,depth=2,branching=3/manual_time",
    "parallel_sleeps/epoll/n=5,duration=1ms/manual_time",
    "parallel_sleeps/epoll/n=7,duration=1ms/large/manual_time",
    "tcp_echo/epoll/c=2,s=64,m=5/manual_time",
    "fetch_many/epoll/n=5,s=64/manual_time",
    "callback_chain/epoll/n=1000/cold/manual_time",
    "baseline/uv/callback_chain/n=1000/manual_time",
    "unknown_scenario/epoll/defaults/manual_time",
]
ITERATION_FIELDS = (
    "name",
    "run_name",
    "run_type",
    "repetitions",
    "repetition_index",
    "real_time",
    "cpu_time",
    "time_unit",
    "iterations",
)


class ReferenceRows(unittest.TestCase):
    def write(self, extra_args: list) -> tuple:
        """The rows written and what was said on stderr."""
        with tempfile.TemporaryDirectory() as folder:
            bench = os.path.join(folder, "loopbench_bench")
            with open(bench, "w", encoding="utf-8") as out:
                out.write(f"#!/bin/sh\nprintf '%s\\n' {' '.join(LISTING)}\n")
            os.chmod(bench, stat.S_IRWXU)
            output = os.path.join(folder, "rows.json")
            done = subprocess.run(
                [
                    sys.executable,
                    os.path.join(HERE, "reference_rows.py"),
                    "--bench",
                    bench,
                    "--loopbench",
                    os.environ["LOOPBENCH"],
                    "--out",
                    output,
                    "--loops",
                    "asyncio",
                    *extra_args,
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            self.assertEqual(done.returncode, 0, done.stderr)
            with open(output, encoding="utf-8") as rows:
                return json.load(rows), done.stderr

    def test_rows_have_the_bench_names_fields_and_counters(self):
        rows, said = self.write(["--min-time", "0"])
        self.assertIn("unknown_scenario: no reference program, skipped", said)
        self.assertEqual(rows["context"]["loopbench_reference"], "python")
        names = [row["name"] for row in rows["benchmarks"]]
        # Each set once (not once per C++ backend); no baselines, cold or large runs.
        self.assertEqual(
            names,
            [
                "callback_chain/asyncio/n=1000/manual_time",
                "gather/asyncio/mode=tree,depth=2,branching=3/manual_time",
                "parallel_sleeps/asyncio/n=5,duration=1ms/manual_time",
                "tcp_echo/asyncio/c=2,s=64,m=5/manual_time",
                "fetch_many/asyncio/n=5,s=64/manual_time",
            ],
        )
        for row in rows["benchmarks"]:
            for field in ITERATION_FIELDS:
                self.assertIn(field, row)
            self.assertNotIn("error_occurred", row)
            self.assertEqual(row["time_unit"], "ms")
            self.assertGreater(row["real_time"], 0)
            self.assertGreater(row["items_per_s"], 0)
        chain = rows["benchmarks"][0]
        self.assertEqual(chain["callbacks"], 1000)
        self.assertIn("ns_per_callback", chain)
        sleeps = rows["benchmarks"][2]
        self.assertEqual(sleeps["samples"], 5 * sleeps["iterations"])
        self.assertEqual(sleeps["early_wakeups"], 0)
        self.assertGreater(sleeps["p50_ns"], 0)  # Lateness of a real 1 ms sleep.
        # items_per_s (checked above) counts round trips and requests, as the bench does.
        echo, fetch = rows["benchmarks"][3:]
        self.assertEqual(echo["round_trips"], 10)
        self.assertEqual(echo["samples"], 10 * echo["iterations"])
        self.assertEqual(fetch["requests"], 5)

    def test_repetitions_add_the_aggregates_with_min(self):
        rows, _ = self.write(["--quick", "--repetitions", "2", "--filter", "^callback_chain/"])
        kinds = [(row["run_type"], row.get("aggregate_name")) for row in rows["benchmarks"]]
        self.assertEqual(
            kinds,
            [
                ("iteration", None),
                ("iteration", None),
                ("aggregate", "mean"),
                ("aggregate", "median"),
                ("aggregate", "stddev"),
                ("aggregate", "cv"),
                ("aggregate", "min"),
            ],
        )
        iterations = rows["benchmarks"][:2]
        minimum = rows["benchmarks"][-1]
        self.assertEqual(minimum["name"], "callback_chain/asyncio/n=1000/manual_time_min")
        self.assertEqual(minimum["real_time"], min(row["real_time"] for row in iterations))


if __name__ == "__main__":
    unittest.main()
