"""No Keycloak JVM outlives its sandbox: SIGTERM to the sandbox's process group in each boot
phase of the distribution launcher, and a SIGKILL that leaves no chance to clean up.

The JVM runs in its own session (sandbox/backends/keycloak/process.py), so the group's
SIGTERM reaches only the sandbox, which must stop the JVM itself in every phase: before
the JVM starts, while it boots, while it imports the realm, and once the sandbox is ready.
Seen once before these tests: a JVM still running after its sandbox had gone. Found by
them: once ready, an open event stream (the trace page) kept uvicorn waiting for ever, and
a sandbox killed in that state (as a process manager escalates) left its JVM behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sandbox.backends.keycloak.choose import distribution_unavailable_reason
from sandbox.backends.keycloak.ports import free_port
from sandbox.backends.keycloak.process import group_members
from sandbox.testing.server import clean_environment

# When to send SIGTERM: the first line of the sandbox's output that marks the phase.
PHASES = {
    # Printed just before the launcher spawns kc.sh.
    "before the JVM starts": "keycloak: boot: starting Keycloak",
    # The JVM is up and Quarkus is booting (the launcher prints this once kc.sh is running).
    "during boot": "keycloak: boot: starting Keycloak",
    # Keycloak logged that it started importing the realm.
    "during realm import": "keycloak: boot: done in",
    "once ready": "MCP OAuth sandbox is ready",
}
# "during boot" waits this long after its line, so the JVM is past kc.sh and loading Quarkus.
BOOT_DELAY_SECONDS = 3.0
EXIT_TIMEOUT_SECONDS = 60.0


def keycloak_jvms(http_port: int) -> list[int]:
    """Pids of live JVMs serving this Keycloak port (kc.sh passes --http-port=PORT to java)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if (
            state != "Z"
            and any(arg.endswith(b"java") for arg in argv[:1])
            and f"--http-port={http_port}".encode() in argv
        ):
            found.append(int(entry.name))
    return found


class SandboxRun:
    """``python -m sandbox --backend keycloak`` in a session of its own, its output followed line by line."""

    def __init__(self, tmp_path: Path) -> None:
        self.keycloak_port = free_port()
        self.base_url = f"http://localhost:{free_port()}"
        command = [
            sys.executable,
            "-m",
            "sandbox",
            "--backend",
            "keycloak",
            "--keycloak-launcher",
            "distribution",
            "--port",
            self.base_url.rpartition(":")[2],
            "--keycloak-port",
            str(self.keycloak_port),
            "--keycloak-management-port",
            str(free_port()),
            "--state-dir",
            str(tmp_path / "state"),
        ]
        self.process = subprocess.Popen(
            command, env=clean_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with self._seen:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self._seen.notify_all()

    def wait_for(self, marker: str, timeout: float = 240.0) -> None:
        with self._seen:
            if not self._seen.wait_for(
                lambda: any(marker in line for line in self.lines) or self.process.poll() is not None, timeout
            ):
                raise AssertionError(f"no {marker!r} within {timeout} s: {self.lines[-5:]}")
        if self.process.poll() is not None:
            raise AssertionError(f"sandbox exited ({self.process.returncode}) before {marker!r}: {self.lines[-5:]}")

    def terminate_group(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)  # its own session: the group is its pid

    def kill_everything(self) -> None:
        """Clean up after a failed test: the group, and any JVM it left behind."""
        for pid in keycloak_jvms(self.keycloak_port):
            os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def hold_trace_stream(base_url: str) -> None:
    """Keep the trace page's event stream open, as a browser showing it does."""

    def follow() -> None:
        try:
            with httpx.stream("GET", f"{base_url}/sandbox/trace/events", timeout=None) as events:
                for _ in events.iter_raw():
                    pass
        except httpx.HTTPError:
            pass  # the sandbox went away: that is the point

    threading.Thread(target=follow, daemon=True).start()


@pytest.mark.keycloak
@pytest.mark.parametrize("phase", list(PHASES))
def test_sigterm_to_the_process_group_leaves_no_jvm(tmp_path: Path, phase: str) -> None:
    if reason := distribution_unavailable_reason():
        pytest.skip(reason)
    run = SandboxRun(tmp_path)
    try:
        run.wait_for(PHASES[phase])
        if phase == "during boot":
            time.sleep(BOOT_DELAY_SECONDS)
            assert keycloak_jvms(run.keycloak_port), "the JVM should be booting by now"
        if phase == "once ready":
            hold_trace_stream(run.base_url)
            assert wait_until(lambda: any("/sandbox/trace/events" in line for line in run.lines), 30)
        run.terminate_group()
        exited = wait_until(lambda: run.process.poll() is not None, EXIT_TIMEOUT_SECONDS)
        assert exited, f"the sandbox did not exit within {EXIT_TIMEOUT_SECONDS} s of SIGTERM: {run.lines[-5:]}"
        # The launcher waits for the JVM before it exits; no grace period is owed here.
        assert keycloak_jvms(run.keycloak_port) == [], f"a JVM outlived the sandbox ({phase}): {run.lines[-5:]}"
    finally:
        run.kill_everything()


# A stand-in for the sandbox: it starts a group as the launcher starts kc.sh, prints the
# group id and waits, to be killed with no chance to stop anything.
_OWNER = """
import sys, time
from pathlib import Path
from sandbox.backends.keycloak.process import ProcessGroup
with open(sys.argv[1], "ab") as output:
    group = ProcessGroup.spawn(["sh", "-c", "sleep 300 & sleep 300 & wait"], cwd=Path(sys.argv[2]), env={"PATH": "/usr/bin:/bin"}, output=output)
print(group.pgid, flush=True)
time.sleep(300)
"""


def test_a_group_whose_owner_is_killed_is_stopped_by_its_watchdog(tmp_path: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(tmp_path / "out.log"), str(tmp_path)], stdout=subprocess.PIPE
    )
    assert owner.stdout is not None
    pgid = int(owner.stdout.readline())
    try:
        assert wait_until(lambda: len(group_members(pgid)) == 3, 10), "the group should be running"
        owner.kill()  # SIGKILL: no finally, no atexit, no signal handler
        owner.wait(timeout=10)
        assert wait_until(lambda: group_members(pgid) == [], 10), f"the group outlived its owner: {group_members(pgid)}"
    finally:
        if group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)
        owner.stdout.close()
