"""The comparator must fail on a differing trace, naming the first differing event.

    LOOPBENCH=build/release/cli/loopbench python3 -m unittest test_differential

Without LOOPBENCH the end-to-end tests (real loopbench output, perturbed) skip.
"""

import os
import stat
import subprocess
import sys
import tempfile
import unittest

import differential

HERE = os.path.dirname(os.path.abspath(__file__))
CASE = differential.find_case("stop_race_naive")


def result(trace, status="ok", error="", **metrics):
    line = {"backend": "fake", "status": status, "trace": trace, "metrics": metrics}
    if error:
        line["error"] = error
    return line


class FirstDifference(unittest.TestCase):
    def test_equal_traces_have_none(self):
        self.assertIsNone(
            differential.first_difference(["start a", "done a ok"], ["start a", "done a ok"])
        )

    def test_names_the_first_differing_event_and_both_lines(self):
        message = differential.first_difference(
            ["start a", "start b", "done a ok", "done b ok"],
            ["start a", "start b", "done b ok", "done a ok"],
        )
        self.assertEqual(
            message, "first difference at event 2: CPython 'done a ok', backend 'done b ok'"
        )

    def test_a_missing_event_is_the_end_of_the_trace(self):
        message = differential.first_difference(["start a", "pending b"], ["start a"])
        self.assertEqual(
            message, "first difference at event 1: CPython 'pending b', backend " "'<end of trace>'"
        )


class Normalise(unittest.TestCase):
    def test_sorts_a_run_of_unordered_events(self):
        self.assertEqual(
            differential.normalise(["start t0", "done t1 ok", "done t0 ok"], ("done t",)),
            ["start t0", "done t0 ok", "done t1 ok"],
        )

    def test_never_moves_an_event_across_another(self):
        trace = ["done t1 ok", "stop loop", "done t0 ok"]
        self.assertEqual(differential.normalise(trace, ("done t",)), trace)

    def test_leaves_a_trace_without_unordered_prefixes_alone(self):
        trace = ["done b ok", "done a ok"]
        self.assertEqual(differential.normalise(trace, ()), trace)


REAL = {"real_time": True, "threads": True, "io": True, "completion_io": False}
VIRTUAL = {"real_time": False, "threads": False, "io": False, "completion_io": False}


class Compare(unittest.TestCase):
    reference = result(["start a", "stop loop"], max_qsize=3)

    def verdict(self, case, backend, traits=None, reference=None):
        return differential.compare(case, reference or self.reference, backend, traits or REAL)

    def test_equal(self):
        verdict, _ = self.verdict(CASE, result(["start a", "stop loop"]))
        self.assertEqual(verdict, "ok")

    def test_differing_trace_fails_with_the_event(self):
        verdict, why = self.verdict(CASE, result(["start a", "loop stopped"]))
        self.assertEqual(verdict, "FAIL")
        self.assertIn("event 1: CPython 'stop loop', backend 'loop stopped'", why)

    def test_differing_status_fails(self):
        verdict, why = self.verdict(CASE, result(["start a", "stop loop"], "timeout", "deadline"))
        self.assertEqual(verdict, "FAIL")
        self.assertIn("status timeout", why)

    def test_differing_metric_fails(self):
        case = differential.find_case("producer_consumer_bounded_cancel")
        verdict, why = self.verdict(case, result(["start a", "stop loop"], max_qsize=4))
        self.assertEqual(verdict, "FAIL")
        self.assertEqual(why, "metric max_qsize: CPython 3, backend 4")

    def tcp_echo_verdict(self, error: str, traits: dict) -> str:
        case = differential.find_case("tcp_echo")
        return self.verdict(case, result([], "error", error), traits)[0]

    def test_a_backend_whose_traits_lack_sockets_is_compat(self):
        self.assertEqual(self.tcp_echo_verdict("backend fake has no socket I/O", VIRTUAL), "compat")

    def test_the_capability_error_of_a_backend_that_has_it_fails(self):
        # A backend that wrongly says it has no sockets must not drop out silently.
        self.assertEqual(self.tcp_echo_verdict("backend fake has no socket I/O", REAL), "FAIL")

    def test_a_backend_lacking_a_trait_must_say_so(self):
        case = differential.find_case("threadsafe_pingpong")
        ran = result(["start pinger", "done pinger ok"], round_trips=100)
        self.assertEqual(self.verdict(case, ran, VIRTUAL)[0], "FAIL")
        other_error = result([], "error", "boom")
        self.assertEqual(self.verdict(case, other_error, VIRTUAL)[0], "FAIL")
        declined = result([], "error", "needs real threads: backend fake cannot be woken")
        self.assertEqual(self.verdict(case, declined, VIRTUAL)[0], "compat")

    def test_a_capability_error_elsewhere_in_the_text_fails(self):
        self.assertEqual(
            self.tcp_echo_verdict("connect: backend fake has no socket I/O", VIRTUAL), "FAIL"
        )

    def test_connections_finishing_together_are_unordered(self):
        case = differential.find_case("fetch_many")
        reference = result(
            ["start request0", "start request1", "done request0 ok", "done request1 ok"]
        )
        swapped = result(
            ["start request0", "start request1", "done request1 ok", "done request0 ok"]
        )
        self.assertEqual(self.verdict(case, swapped, reference=reference)[0], "ok")

    def test_equal_deadlines_are_unordered_on_virtual_time_only(self):
        case = differential.find_case("parallel_sleeps")
        reference = result(["start t0", "start t1", "done t0 ok", "done t1 ok"], tasks=2)
        swapped = result(["start t0", "start t1", "done t1 ok", "done t0 ok"], tasks=2)
        self.assertEqual(self.verdict(case, swapped, VIRTUAL, reference)[0], "ok")
        verdict, why = self.verdict(case, swapped, REAL, reference)
        self.assertEqual(verdict, "FAIL")
        self.assertIn("event 2: CPython 'done t0 ok', backend 'done t1 ok'", why)

    def test_any_other_error_fails(self):
        verdict, _ = self.verdict(CASE, result([], "error", "boom"))
        self.assertEqual(verdict, "FAIL")


# Runs the real loopbench and rewrites every run's trace as the test asks,
# leaving out the runs that `keep` rejects (`list --json` passes unchanged).
PERTURBING_LOOPBENCH = """\
#!{python}
import json, subprocess, sys
done = subprocess.run([{real!r}, *sys.argv[1:]], capture_output=True, text=True)
for line in done.stdout.splitlines():
    result = json.loads(line)
    if "trace" in result:
        if not ({keep}):
            continue
        result["trace"] = {rewrite}
    print(json.dumps(result))
sys.exit(done.returncode)
"""


@unittest.skipUnless(os.environ.get("LOOPBENCH"), "set LOOPBENCH to the loopbench binary")
class EndToEnd(unittest.TestCase):
    def run_differential(
        self, rewrite: str, case: str, keep: str = "True"
    ) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory() as folder:
            fake = os.path.join(folder, "loopbench")
            with open(fake, "w", encoding="utf-8") as out:
                out.write(
                    PERTURBING_LOOPBENCH.format(
                        python=sys.executable,
                        real=os.environ["LOOPBENCH"],
                        rewrite=rewrite,
                        keep=keep,
                    )
                )
            os.chmod(fake, stat.S_IRWXU)
            return subprocess.run(
                [sys.executable, os.path.join(HERE, "differential.py"), "--loopbench", fake, case],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

    def test_unchanged_output_passes(self):
        done = self.run_differential('result["trace"]', "stop_race_naive")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_swapped_events_fail_naming_the_first_differing_event(self):
        # "stop loop" and "done a ok" swapped: the race's order, not its events, differs.
        rewrite = 'result["trace"][:2] + result["trace"][3:1:-1] + result["trace"][4:]'
        done = self.run_differential(rewrite, "stop_race_naive")
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn(
            "first difference at event 2: CPython 'stop loop', backend 'done a ok'", done.stdout
        )

    def test_a_backend_that_did_not_report_fails(self):
        done = self.run_differential(
            'result["trace"]', "stop_race_naive", keep='result["backend"] != "epoll"'
        )
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("backends that reported", done.stdout)

    def test_a_dropped_event_fails(self):
        done = self.run_differential('result["trace"][:-1]', "stop_race_naive")
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn(
            "first difference at event 6: CPython 'cancelled b', backend " "'<end of trace>'",
            done.stdout,
        )


if __name__ == "__main__":
    unittest.main()
