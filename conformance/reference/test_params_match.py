"""Every reference program reads the parameters of its C++ scenario.

    LOOPBENCH=build/release/cli/loopbench python3 -m unittest test_params_match

The C++ scenarios declare their parameters once (scenarios/*.cpp) and
`loopbench list --json` prints them; each program of this folder declares its
own (harness.Param), so that it runs without loopbench. This test fails when
the two differ in a name, its order, a kind, a default, a bound or a choice,
or when a scenario has no program here.
"""

import json
import os
import subprocess
import unittest

import harness


def cpp_scenarios() -> list:
    listing = subprocess.run(
        [os.environ["LOOPBENCH"], "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return json.loads(listing)["scenarios"]


def as_cpp_would_list(param: harness.Param) -> dict:
    """A Python parameter in the shape of `loopbench list --json`'s, without the help text."""
    if param.kind == "choice":
        return {
            "name": param.name,
            "type": "choice",
            "default": param.default[0],
            "choices": list(param.default),
        }
    return {
        "name": param.name,
        "type": param.kind,
        "default": param.default,
        "min": param.low,
        "max": param.high,
    }


def without_help(spec: dict) -> dict:
    return {key: value for key, value in spec.items() if key not in ("help", "default_text")}


class ParamsMatch(unittest.TestCase):
    def test_every_scenario_has_a_program_with_the_same_parameters(self):
        scenarios = cpp_scenarios()
        self.assertTrue(scenarios)
        for cpp in scenarios:
            with self.subTest(scenario=cpp["name"]):
                program = harness.find(cpp["name"])
                self.assertIsNotNone(
                    program, f"no reference program {cpp['name']}.py for the C++ scenario"
                )
                self.assertEqual(program.name, cpp["name"])
                self.assertEqual(
                    [as_cpp_would_list(param) for param in program.params],
                    [without_help(spec) for spec in cpp["params"]],
                    f"{cpp['name']}.py's parameters differ from the C++ scenario's "
                    "(first list: Python, second: C++)",
                )


if __name__ == "__main__":
    unittest.main()
