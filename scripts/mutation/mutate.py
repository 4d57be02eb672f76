"""Mutation testing of the core: does the conformance suite, and does the CPython oracle, fail?

    scripts/mutate.sh [--only ID ...] [--workdir DIR] [--jobs N] [--check] [--list]

Each mutant of mutants.toml (a small semantic bug of loops/core or
loops/include) is applied in turn to a scratch git worktree of HEAD (the
committed tree: uncommitted changes are not tested), built with ccache, and
run against the rule tests (conformance_tests) and, separately, the oracle
(`ctest -L reference`). A mutant is killed by a suite that fails with it.
First the unmutated tree must pass both, or nothing is judged.

Prints killed/survived per mutant and suite, and the scores; writes the same
as Markdown to WORKDIR/results.md. --check only verifies that every mutant's
snippets are found exactly once in HEAD (run it after a refactoring). A
mutant whose snippet is not found exactly once is NOT APPLIED: named on
stderr and in the table, run by neither suite and counted in neither score.
Exit code 0 when every mutant was applied and killed by the rule tests, 1
otherwise, 2 for bad input or a broken baseline.
"""

import argparse
import dataclasses
import fcntl
import os
import re
import subprocess
import sys
import time
import tomllib
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TARGETS = ("conformance_tests", "loopbench", "seed_traces")
# Far above a clean run (about 25 s and 40 s on 2 idle cores): a mutant that
# hangs is killed by the timeout, and says so.
RULES_TIMEOUT_S = 900
ORACLE_TIMEOUT_S = 1800
# A header mutant rebuilds most of the targets: on a loaded machine that took
# over 15 minutes.
BUILD_TIMEOUT_S = 7200


class MutantError(Exception):
    """A mutant that cannot be applied as written (its code has moved): re-target it."""


@dataclasses.dataclass
class Edit:
    file: str
    original: str
    replacement: str


@dataclasses.dataclass
class Mutant:
    id: str
    area: str
    rule: str
    what: str
    edits: list


@dataclasses.dataclass
class Verdict:
    killed: Optional[bool]  # None: the mutant did not build.
    detail: str


def load_mutants(path: str) -> list:
    with open(path, "rb") as file:
        data = tomllib.load(file)
    mutants = []
    for entry in data.get("mutant", []):
        edits = [Edit(e["file"], e["original"], e["replacement"]) for e in entry.get("edit", [])]
        if not edits:
            raise MutantError(f"mutant {entry.get('id')}: no edit")
        mutants.append(Mutant(entry["id"], entry["area"], entry["rule"], entry["what"], edits))
    ids = [mutant.id for mutant in mutants]
    duplicates = sorted({mutant_id for mutant_id in ids if ids.count(mutant_id) > 1})
    if duplicates:
        raise MutantError(f"duplicate mutant ids: {', '.join(duplicates)}")
    return mutants


def apply(mutant: Mutant, tree: str) -> None:
    """Applies every edit, or none: each snippet must occur exactly once."""
    texts = {}
    for edit in mutant.edits:
        path = os.path.join(tree, edit.file)
        if path not in texts:
            try:
                with open(path, encoding="utf-8") as file:
                    texts[path] = file.read()
            except OSError as error:
                raise MutantError(f"mutant {mutant.id}: cannot read {edit.file}: {error}") from None
        count = texts[path].count(edit.original)
        if count != 1:
            first_line = edit.original.strip().splitlines()[0]
            raise MutantError(
                f"mutant {mutant.id}: the snippet starting '{first_line}' occurs {count} times "
                f"in {edit.file}, not once: re-target it in mutants.toml"
            )
        texts[path] = texts[path].replace(edit.original, edit.replacement)
    for path, text in texts.items():
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)


def run(command: list, cwd: str, timeout_s: float) -> tuple:
    """(exit code or None on timeout, combined output)."""
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        return done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        parts = (expired.stdout, expired.stderr)
        return None, "".join(
            part.decode(errors="replace") if isinstance(part, bytes) else part or ""
            for part in parts
        )


class Scratch:
    """A worktree of HEAD and its build, reused from one mutant to the next."""

    def __init__(self, workdir: str, jobs: int):
        self.tree = os.path.join(workdir, "src")
        self.build = os.path.join(workdir, "build")
        self.jobs = jobs
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        if not os.path.isdir(self.tree):
            subprocess.run(
                ["git", "worktree", "add", "--detach", self.tree, head],
                cwd=REPO,
                capture_output=True,
                check=True,
            )
        subprocess.run(
            ["git", "checkout", "--detach", "--force", head],
            cwd=self.tree,
            capture_output=True,
            check=True,
        )
        subprocess.run(["git", "clean", "-fdq"], cwd=self.tree, check=True)
        self.head = head

    def remove(self) -> None:
        """Unregisters the worktree; the build stays for the next run (and ccache)."""
        subprocess.run(["git", "worktree", "remove", "--force", self.tree], cwd=REPO, check=True)

    def restore(self) -> None:
        subprocess.run(["git", "checkout", "--force", "--", "."], cwd=self.tree, check=True)

    def configure(self) -> None:
        subprocess.run(
            [
                "cmake",
                "-S",
                self.tree,
                "-B",
                self.build,
                "-DCMAKE_BUILD_TYPE=Release",
                "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache",
                "-DLOOPBENCH_BUILD_BENCH=OFF",
            ],
            capture_output=True,
            check=True,
        )

    def compile(self) -> tuple:
        return run(
            ["cmake", "--build", self.build, "-j", str(self.jobs), "--target", *TARGETS],
            self.tree,
            BUILD_TIMEOUT_S,
        )

    def rule_tests(self) -> Verdict:
        binary = os.path.join(self.build, "conformance", "conformance_tests")
        # Stops at the first failure: one is enough to kill, and it halves the run.
        code, output = run(
            [binary, "--gtest_brief=1", "--gtest_fail_fast=1"], self.build, RULES_TIMEOUT_S
        )
        if code == 0:
            return Verdict(False, "all passed")
        if code is None:
            return Verdict(True, f"timed out after {RULES_TIMEOUT_S} s")
        failed = sorted(set(re.findall(r"^\[  FAILED  \] (\w+\.\w+/\w+)", output, re.M)))
        rules = sorted({name.split(".")[1].split("/")[0] for name in failed})
        if rules:
            return Verdict(
                True,
                f"{len(failed)} failed: {', '.join(rules[:6])}"
                + (" ..." if len(rules) > 6 else ""),
            )
        return Verdict(True, f"exit code {code} (crashed or aborted)")

    def oracle(self) -> Verdict:
        code, output = run(
            [
                "ctest",
                "-L",
                "reference",
                "-j",
                str(self.jobs),
                "--timeout",
                "120",
                "--stop-on-failure",
            ],
            self.build,
            ORACLE_TIMEOUT_S,
        )
        if code == 0:
            return Verdict(False, "all passed")
        if code is None:
            return Verdict(True, f"timed out after {ORACLE_TIMEOUT_S} s")
        failed = [
            line.split(" - ")[1].split()[0]
            for line in output.splitlines()
            if " - reference." in line and "Passed" not in line and " - " in line
        ]
        cases = sorted({name.removeprefix("reference.") for name in failed})
        return Verdict(
            True,
            f"{len(cases)} failed: {', '.join(cases[:5])}" + (" ..." if len(cases) > 5 else ""),
        )


def describe(verdict: Verdict) -> str:
    if verdict.killed is None:
        return "NOT JUDGED"
    return "KILLED" if verdict.killed else "survived"


def score(results: list, suite: str) -> str:
    judged = [result[suite] for result in results if result[suite].killed is not None]
    killed = sum(1 for verdict in judged if verdict.killed)
    text = f"{killed}/{len(judged)}" + (f" ({100 * killed / len(judged):.0f}%)" if judged else "")
    text += " killed"
    unjudged = len(results) - len(judged)
    return text + (f", {unjudged} not judged (not applied or not built)" if unjudged else "")


def markdown(results: list, head: str, seconds: float) -> str:
    lines = [
        f"Mutation run of {head[:12]}: {len(results)} mutants in {seconds / 60:.0f} min "
        f"(load average {os.getloadavg()[0]:.2f} at the end).",
        "",
        f"- rule tests (conformance_tests): {score(results, 'rules')}",
        f"- oracle alone (ctest -L reference): {score(results, 'oracle')}",
        "",
        "| mutant | area | rule | rule tests | oracle |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        mutant = result["mutant"]
        lines.append(
            f"| `{mutant.id}` | {mutant.area} | {mutant.rule} | "
            f"{describe(result['rules'])}: {result['rules'].detail} | "
            f"{describe(result['oracle'])}: {result['oracle'].detail} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Mutation testing of loops/core and loops/include")
    parser.add_argument("--mutants", default=os.path.join(HERE, "mutants.toml"))
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    # Inside this checkout (build/ is ignored by git): a folder shared by two
    # checkouts let one's run remove the scratch worktree of the other's.
    parser.add_argument("--workdir", default=os.path.join(REPO, "build", "mutate"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--check", action="store_true", help="only check that every mutant applies")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    try:
        mutants = load_mutants(args.mutants)
    except (OSError, tomllib.TOMLDecodeError, KeyError, MutantError) as error:
        print(f"mutate: {args.mutants}: {error}", file=sys.stderr)
        return 2
    if args.only:
        unknown = sorted(set(args.only) - {mutant.id for mutant in mutants})
        if unknown:
            print(f"mutate: unknown mutant(s) {', '.join(unknown)}", file=sys.stderr)
            return 2
        mutants = [mutant for mutant in mutants if mutant.id in args.only]
    if args.list:
        for mutant in mutants:
            print(f"{mutant.id:45} {mutant.area:13} {mutant.rule:20} {mutant.what}")
        return 0

    os.makedirs(args.workdir, exist_ok=True)
    lock = open(os.path.join(args.workdir, "lock"), "w", encoding="utf-8")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"mutate: another run is using {args.workdir}: wait for it", file=sys.stderr)
        return 2
    scratch = Scratch(args.workdir, args.jobs)
    try:
        return mutate(scratch, mutants, args)
    finally:
        scratch.remove()


def not_applied(scratch: Scratch, mutants: list) -> dict:
    """Mutant id -> why, for each mutant whose snippets are not in HEAD as written."""
    reasons = {}
    for mutant in mutants:
        try:
            apply(mutant, scratch.tree)
        except MutantError as error:
            reasons[mutant.id] = str(error)
            print(f"mutate: NOT APPLIED: {error}", file=sys.stderr)
        finally:
            scratch.restore()
    return reasons


def mutate(scratch: Scratch, mutants: list, args) -> int:
    unapplied = not_applied(scratch, mutants)
    if args.check:
        print(
            f"{len(mutants) - len(unapplied)} of {len(mutants)} mutants apply to "
            f"{scratch.head[:12]}" + (f"; {len(unapplied)} NOT APPLIED" if unapplied else "")
        )
        return 1 if unapplied else 0

    start = time.monotonic()
    scratch.configure()
    code, output = scratch.compile()
    if code != 0:
        print(f"mutate: the unmutated tree does not build:\n{output[-3000:]}", file=sys.stderr)
        return 2
    print(f"baseline {scratch.head[:12]}: rule tests and oracle ...", flush=True)
    for name, check in (("rule tests", scratch.rule_tests), ("oracle", scratch.oracle)):
        verdict = check()
        if verdict.killed:
            print(f"mutate: the {name} fail without a mutant: {verdict.detail}", file=sys.stderr)
            return 2

    results = []
    for number, mutant in enumerate(mutants, 1):
        if mutant.id in unapplied:
            not_judged = Verdict(None, "not applied: its snippet moved, re-target it")
            results.append({"mutant": mutant, "rules": not_judged, "oracle": not_judged})
            print(f"[{number}/{len(mutants)}] {mutant.id}: NOT APPLIED", flush=True)
            continue
        apply(mutant, scratch.tree)
        try:
            code, output = scratch.compile()
            if code != 0:
                why = (
                    "not built: the build timed out"
                    if code is None
                    else "not built: it does not compile, re-target it"
                )
                not_built = Verdict(None, why)
                print(output[-2000:], file=sys.stderr)
                result = {"mutant": mutant, "rules": not_built, "oracle": not_built}
            else:
                result = {
                    "mutant": mutant,
                    "rules": scratch.rule_tests(),
                    "oracle": scratch.oracle(),
                }
        finally:
            scratch.restore()
        results.append(result)
        print(
            f"[{number}/{len(mutants)}] {mutant.id}: rule tests {describe(result['rules'])} "
            f"({result['rules'].detail}); oracle {describe(result['oracle'])} "
            f"({result['oracle'].detail})",
            flush=True,
        )

    report = markdown(results, scratch.head, time.monotonic() - start)
    with open(os.path.join(args.workdir, "results.md"), "w", encoding="utf-8") as out:
        out.write(report)
    print()
    print(report)
    # A mutant not applied or not built is not killed.
    all_killed = all(result["rules"].killed is True for result in results)
    return 0 if all_killed else 1


if __name__ == "__main__":
    sys.exit(main())
