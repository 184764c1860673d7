"""The plugin pauses the cyclic collector for a run's start-up and always gives it back
(mock_idp/gc_pause.py): frozen once the first stack is ready, as it was at the end of the first
test's setup when no stack starts, and at session start in xdist's controller, which runs no test.

Each run is a fresh pytest process with the plugin from its entry point; a test module's
top level runs at collection, so it sees the pause, and the tests see what came after.
"""

from __future__ import annotations

import pytest

FIRST_TEST_USES_THE_STACK = """
import gc

PAUSED_AT_COLLECTION = not gc.isenabled()


def test_collection_is_back_with_start_up_frozen(sandbox):
    assert PAUSED_AT_COLLECTION
    assert gc.isenabled()
    # FastMCP, the MCP SDK and the app leave over 100,000 tracked objects; pytest alone ~60,000.
    assert gc.get_freeze_count() > 100_000


def test_a_later_test_finds_it_on(sandbox):
    assert gc.isenabled()
"""

NO_STACK = """
import gc

PAUSED_AT_COLLECTION = not gc.isenabled()


def test_collection_is_back_and_nothing_frozen():
    assert PAUSED_AT_COLLECTION
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
"""

# xdist's controller collects nothing and runs no test: it writes what it ends with.
CONTROLLER_REPORT = """
import gc, os


def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        with open(os.environ["CONTROLLER_GC"], "w") as out:
            out.write(f"{gc.isenabled()} {gc.get_freeze_count()}")
"""


def test_a_first_test_with_a_stack_finds_collection_on_and_start_up_frozen(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_stack=FIRST_TEST_USES_THE_STACK)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=2)


def test_without_a_stack_collection_comes_back_unfrozen_in_workers_and_controller(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = pytester.path / "controller-gc"
    monkeypatch.setenv("CONTROLLER_GC", str(report))
    pytester.makeconftest(CONTROLLER_REPORT)
    pytester.makepyfile(test_plain=NO_STACK)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "1", timeout=300)
    result.assert_outcomes(passed=1)
    assert report.read_text() == "True 0"
