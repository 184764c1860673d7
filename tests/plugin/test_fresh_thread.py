"""The plugin's first-stack imports on a fresh thread (sandbox/testing/fresh_thread.py says why)."""

from __future__ import annotations

import resource
import sys
import threading

import pytest

from sandbox.testing.fresh_thread import import_on_fresh_thread


def test_the_modules_are_imported_on_another_thread(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    (tmp_path / "fresh_thread_probe.py").write_text("import threading\nIMPORTED_ON = threading.current_thread().name\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fresh_thread_probe", raising=False)
    import_on_fresh_thread("json", "fresh_thread_probe")
    assert sys.modules["fresh_thread_probe"].IMPORTED_ON == "sandbox-imports"
    assert threading.current_thread().name != "sandbox-imports"


def test_an_import_error_is_raised_in_the_caller() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_module_for_the_sandbox"):
        import_on_fresh_thread("json", "no_such_module_for_the_sandbox")


def _leaf() -> None:
    pass


def _faults_at(depth: int, calls: int) -> int:
    """Minor page faults of ``calls`` calls made ``depth`` frames down (a fresh chunk faults when mapped)."""
    if depth:
        return _faults_at(depth - 1, calls)
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for _ in range(calls):
        _leaf()
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RUSAGE_THREAD is Linux's")
def test_this_cpython_still_maps_a_chunk_per_call_at_a_chunk_edge() -> None:
    """FAILS once CPython caches a frame chunk (gh-142183): then the fresh thread can go.

    Some depth within the first 400 frames puts ``_leaf``'s frame just past a 16 KiB chunk's
    end; with the thrash, each of the 200 calls there maps a new chunk and faults its page.
    """
    calls = 200
    worst = max(_faults_at(depth, calls) for depth in range(400))
    assert worst >= calls, f"at most {worst} page faults for {calls} calls at any depth: no chunk thrash"
