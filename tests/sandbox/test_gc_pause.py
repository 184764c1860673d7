"""``python -m sandbox`` starts with the cyclic collector paused and resumes it once it serves,
with start-up's objects frozen (mock_idp/gc_pause.py); nothing else's collector is touched.

The CLI's check runs the real entry point in a fresh interpreter: a watcher thread there sees
the collector off while the stack starts, then on again once /healthz answers, and reports
how many objects were frozen, then stops the process with the Ctrl-C a user would send.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys

from mock_idp import gc_pause
from sandbox.testing.server import clean_environment, free_port

WATCHED_START = """
import gc, json, os, signal, sys, threading, time, urllib.request

port = sys.argv[1]
seen = {}


def wait_for(enabled, seconds):
    deadline = time.monotonic() + seconds
    while gc.isenabled() != enabled and time.monotonic() < deadline:
        time.sleep(0.001)
    return gc.isenabled() == enabled


def watch():
    # Each wait is bounded, so a CLI that never pauses or never resumes fails the test, not hangs it.
    seen["paused_while_starting"] = wait_for(False, 30)
    seen["resumed"] = wait_for(True, 60)
    if seen["resumed"]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as answer:
            seen["healthz"] = answer.status
    seen["frozen"] = gc.get_freeze_count()
    print(json.dumps(seen), flush=True)
    os.kill(os.getpid(), signal.SIGINT)


threading.Thread(target=watch, daemon=True).start()
from sandbox.__main__ import run

sys.argv = ["mcp-oauth-sandbox", "--port", port, "--state-dir", sys.argv[2], "--log-level", "warning"]
sys.exit(run())
"""


def test_the_cli_starts_with_collection_paused_and_resumes_it_frozen_once_serving(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", WATCHED_START, str(free_port()), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environment(),
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["paused_while_starting"] is True
    assert seen["resumed"] is True
    assert seen["healthz"] == 200
    # Start-up leaves ~130,000 tracked objects; the interpreter alone has ~20,000.
    assert seen["frozen"] > 50_000


def test_resume_without_a_pause_leaves_the_collector_alone() -> None:
    # What a test calling sandbox.cli.main in-process does: its collector is not the CLI's.
    frozen = gc.get_freeze_count()
    gc_pause.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        gc_pause.pause()
        gc_pause.resume()
        assert not gc.isenabled()  # whoever turned it off turns it on
    finally:
        gc.enable()
