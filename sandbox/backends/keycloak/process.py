"""A child process in its own process group, which is always killed as a whole.

kc.sh forks the JVM, and after a first-boot re-augmentation it `exec`s a second one, so
signalling only the pid we spawned can leave a JVM behind. We signal the group instead,
and stop every live group at interpreter exit and on SIGTERM, so neither Ctrl-C nor a
`kill` of the Python process leaves an orphan JVM holding the ports. A process that dies
without running any of that (SIGKILL, the OOM killer) is covered by a watchdog: a shell in
a session of its own that stops the group once our end of its stdin pipe closes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Protocol

STOP_GRACE_SECONDS = 15.0
# $1 the group, $2 the grace in seconds. `read` returns at end-of-file, when the kernel has
# closed the pipe of a dead owner; SIGKILL follows only right after the group was seen alive.
# (No "--" before the negative pid: dash's kill takes the signal option as the end of options.)
_WATCHDOG = (
    'read _; kill -TERM "-$1" 2>/dev/null; i=0; '
    'while kill -0 "-$1" 2>/dev/null; do '
    '[ "$i" -ge "$2" ] && { kill -KILL "-$1" 2>/dev/null; break; }; sleep 1; i=$((i + 1)); done'
)


class Stoppable(Protocol):
    def stop(self) -> None: ...


# Everything to stop at interpreter exit: process groups, and launchers (which also clean up).
_live: set[Stoppable] = set()
_live_lock = threading.Lock()
_handlers_installed = False


class ProcessGroup:
    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.pgid = popen.pid  # start_new_session=True makes the child the group leader
        self._watchdog = _watch(self.pgid)

    @classmethod
    def spawn(cls, args: list[str], *, cwd: Path, env: dict[str, str], output: IO[bytes]) -> ProcessGroup:
        popen = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            # Its own session: a terminal's Ctrl-C reaches us, and we decide how the JVM stops.
            start_new_session=True,
        )
        group = cls(popen)
        stop_at_exit(group)
        return group

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exit_code(self) -> int | None:
        """The spawned process's exit code, or None while it runs."""
        return self.popen.poll()

    def alive(self) -> bool:
        """True while any non-zombie process of the group exists."""
        return bool(group_members(self.pgid))

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM the group, wait up to `grace` seconds, then SIGKILL what is left. Idempotent."""
        try:
            if self.alive():
                _signal_group(self.pgid, signal.SIGTERM)
                deadline = time.monotonic() + grace
                while time.monotonic() < deadline and self.alive():
                    self._reap()
                    time.sleep(0.1)
                if self.alive():
                    _signal_group(self.pgid, signal.SIGKILL)
                    deadline = time.monotonic() + 5.0
                    while time.monotonic() < deadline and self.alive():
                        self._reap()
                        time.sleep(0.05)
            self._reap(wait=True)
        finally:
            forget_at_exit(self)
            self._dismiss_watchdog()

    def _dismiss_watchdog(self) -> None:
        if self._watchdog.poll() is None:
            self._watchdog.kill()
        self._watchdog.wait()
        if self._watchdog.stdin is not None:
            self._watchdog.stdin.close()

    def _reap(self, wait: bool = False) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5.0 if wait else 0)


def _watch(pgid: int) -> subprocess.Popen[bytes]:
    """The watchdog for ``pgid``: it holds the read end of a pipe whose write end only this
    process has (pipes are not inherited by other children), in its own session, so neither
    a SIGTERM to our group nor a Ctrl-C ends it before the group is stopped."""
    return subprocess.Popen(
        ["/bin/sh", "-c", _WATCHDOG, "keycloak-watchdog", str(pgid), str(int(STOP_GRACE_SECONDS))],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def group_members(pgid: int) -> list[int]:
    """Pids of running (non-zombie) processes in the group."""
    proc = Path("/proc")
    if not proc.is_dir():
        # No procfs (macOS): fall back to "can the group be signalled at all".
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may contain spaces, so split after its ")".
        fields = stat.rpartition(")")[2].split()
        if len(fields) >= 3 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_at_exit(stoppable: Stoppable) -> None:
    _install_exit_handlers()
    with _live_lock:
        _live.add(stoppable)


def forget_at_exit(stoppable: Stoppable) -> None:
    with _live_lock:
        _live.discard(stoppable)


def stop_all() -> None:
    with _live_lock:
        stoppables = list(_live)
    for stoppable in stoppables:
        stoppable.stop()


def _raise_system_exit(signum: int, frame: object) -> None:
    # SystemExit unwinds `finally` blocks and runs atexit, where the JVMs are stopped.
    raise SystemExit(128 + signum)


def _install_exit_handlers() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(stop_all)
    # Python's default SIGTERM kills the interpreter without running atexit; turn it into
    # SystemExit, but only if nobody (uvicorn, pytest, the app) installed a handler already.
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_system_exit)
