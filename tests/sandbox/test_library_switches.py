"""py-key-value's beartype checks are off in any process that imports the sandbox, unless the
environment says otherwise (sandbox/__init__.py). Each probe asks py-key-value itself which
strategy it chose, so the test fails if a release stops reading the switch."""

from __future__ import annotations

import subprocess
import sys

from sandbox.testing.server import clean_environment

SWITCH = "PY_KEY_VALUE_DISABLE_BEARTYPE"
REPORT = "import key_value.aio; print(key_value.aio.strategy.name)"


def strategy(probe: str, **environment: str) -> str:
    base = {key: value for key, value in clean_environment().items() if key != SWITCH}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env={**base, **environment}
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1]


def test_py_key_value_checks_every_call_by_itself() -> None:
    assert strategy(REPORT) == "O1"  # what the sandbox turns off; O0 is beartype's no-op


def test_importing_the_sandbox_turns_the_checks_off() -> None:
    # The pytest plugin's module, as pytest's entry point loads it, and the CLI's package.
    assert strategy(f"import sandbox.pytest_plugin\n{REPORT}") == "O0"
    assert strategy(f"import sandbox.__main__\n{REPORT}") == "O0"


def test_a_value_in_the_environment_wins() -> None:
    assert strategy(f"import sandbox\n{REPORT}", **{SWITCH: "false"}) == "O1"
