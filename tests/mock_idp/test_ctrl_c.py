"""A Ctrl-C during start-up stops ``python -m sandbox`` and ``mock-idp`` even where Python drops
its KeyboardInterrupt (mock_idp/ctrl_c.py).

Python drops a KeyboardInterrupt raised inside a weakref callback or a finalizer ("Exception
ignored in ..."); importlib runs such a callback at the end of every first import, and start-up
is imports. Here a Ctrl-C lands in one on purpose, at the import each CLI makes just before
uvicorn serves, as one did by chance in full-suite runs: the sandbox then served for ever.
And one lands as uvicorn makes its event loop, after it made the coroutine the loop was to run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mockidp_support import REPO

from sandbox.testing.redis_server import RedisServer, redis_server_missing
from sandbox.testing.server import clean_environment, free_port

# A sitecustomize for the child: a Ctrl-C at the first import of {module}, either sent there
# (ctrl_c) or sent inside a weakref callback, where Python drops its KeyboardInterrupt (dropped_ctrl_c).
CTRL_C_AT_IMPORT = """
import os, signal, sys, weakref

def ctrl_c():
    signal.raise_signal(signal.SIGINT)

def dropped_ctrl_c():
    doomed = type("Doomed", (), {{}})()
    ref = weakref.ref(doomed, lambda _: ctrl_c())
    del doomed  # the callback runs here, and the KeyboardInterrupt raised in it is dropped

class _CtrlCAt:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            {action}()
        return None

if os.environ.pop("CTRL_C_TEST_HOOK", None):  # in this process, not in the workers it starts
    sys.meta_path.insert(0, _CtrlCAt())
"""


@pytest.mark.parametrize(
    "command, last_import, stopped",
    [
        # sandbox.cli.server_config; its lifespan's shutdown runs, and it never said it was ready
        (["sandbox", "--store", "memory"], "mock_idp.protocol", "Application shutdown complete."),
        (["mock_idp"], "uvicorn.lifespan.off", None),  # mock_idp.serving.serve: settings.load()
    ],
    ids=["sandbox", "mock-idp"],
)
def test_a_ctrl_c_python_drops_during_start_up_still_stops_the_server(tmp_path: Path, command, last_import, stopped):
    output, returncode = _run_with_hook(
        tmp_path, command, CTRL_C_AT_IMPORT.format(module=last_import, action="dropped_ctrl_c")
    )
    assert "Exception ignored in" in output and "KeyboardInterrupt" in output, output  # it was dropped
    assert returncode == 0, output
    assert output.count("Traceback") == 1, output  # the dropped one's, and no other
    assert "is ready in" not in output, output
    if stopped:
        assert stopped in output, output


def test_a_ctrl_c_python_drops_before_the_workers_start_still_stops_them(tmp_path: Path):
    missing = redis_server_missing()
    if missing:
        pytest.skip(missing)
    redis = RedisServer(tmp_path / "redis").start()
    try:
        # uvicorn.supervisors.multiprocess is imported just before the supervisor is made
        command = ["mock_idp", "--workers", "2", "--store", redis.url]
        output, returncode = _run_with_hook(
            tmp_path,
            command,
            CTRL_C_AT_IMPORT.format(module="uvicorn.supervisors.multiprocess", action="dropped_ctrl_c"),
        )
    finally:
        redis.stop()
    assert "Exception ignored in" in output and "KeyboardInterrupt" in output, output
    assert returncode == 0, output
    assert output.count("Traceback") == 1, output


@pytest.mark.parametrize("command", [["sandbox", "--store", "memory"], ["mock_idp"]], ids=["sandbox", "mock-idp"])
def test_a_ctrl_c_as_uvicorn_makes_its_loop_ends_quietly(tmp_path: Path, command):
    # uvicorn 0.54's run() makes its serve() coroutine, then imports its loop factory: a
    # coroutine never run warned as it was freed, on the way out (mock_idp/uvicorn_server.py).
    output, returncode = _run_with_hook(
        tmp_path, command, CTRL_C_AT_IMPORT.format(module="uvicorn.loops.auto", action="ctrl_c")
    )
    assert returncode == 0, output
    assert "Traceback" not in output and "RuntimeWarning" not in output and "KeyboardInterrupt" not in output, output


def _run_with_hook(tmp_path: Path, command: list[str], sitecustomize: str) -> tuple[str, int]:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(sitecustomize)
    args = [*command, "--port", str(free_port()), "--state-dir", str(tmp_path / "state")]
    environment = {**clean_environment(), "PYTHONUNBUFFERED": "1", "CTRL_C_TEST_HOOK": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**environment, "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), environment.get("PYTHONPATH")]))},
    )
    try:
        output, _ = process.communicate(timeout=30)  # no second Ctrl-C: the first one must do
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its workers too: they hold the output pipe open
        output, _ = process.communicate()
        pytest.fail(f"still serving 30 s after its Ctrl-C:\n{output}")
    return output, process.returncode
