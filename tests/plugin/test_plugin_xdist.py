"""The plugin under pytest-xdist: each worker runs a stack of its own, so what one worker's tests
change through `idp` never reaches another's (tests/plugin/xdist_suite/, 60 tests, `-n 4`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = Path(__file__).with_name("xdist_suite") / "suite_isolation.py"
TIMEOUT = 600  # seconds: four workers, each starting its stack, on a shared 2-core machine


def test_sixty_tests_on_four_workers_pass_without_cross_talk(pytester: pytest.Pytester) -> None:
    shutil.copytree(
        ROOT / "examples" / "notes_server",
        pytester.path / "notes_server",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "examples" / "conftest.py", pytester.path)
    shutil.copy(SUITE, pytester.path / "test_isolation.py")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "4", "-v", timeout=TIMEOUT)
    result.assert_outcomes(passed=60)
    # Every worker took tests (so each ran a stack of its own), and the header says how it runs.
    for worker in ("gw0", "gw1", "gw2", "gw3"):
        result.stdout.fnmatch_lines([f"*[[]{worker}[]]*PASSED*"])
    result.stdout.fnmatch_lines(["*4 workers [[]60 items[]]*"])
