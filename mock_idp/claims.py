"""One process at a time on a state file: an exclusive lock that a second process is refused.

The lock is ``flock`` on a lock file beside the state, held until released or until the
process ends (the kernel drops it, ``kill -9`` included), so a crash never leaves a stale
claim. Claims within one process are counted instead of refused: a test that "restarts"
an IdP or a sandbox in-process opens the same state again before the old one is collected,
which is no second process.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import BinaryIO


class InUseError(Exception):
    """Another live process holds the claim."""


# Lock file (resolved) -> its open handle and how many claims of this process stand on it.
_held: dict[Path, tuple[BinaryIO, int]] = {}


def claim(lock_file: Path) -> tuple[Path, bool]:
    """Claim ``lock_file`` for this process; InUseError if another process holds it. The key
    to :func:`release`, and whether this is the process's first claim on it (the one that
    may clear what a killed process left)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    key = lock_file.resolve()
    handle, count = _held.get(key, (None, 0))
    if handle is None:
        handle = open(key, "ab")  # noqa: SIM115 - held for as long as the claim
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise InUseError(str(lock_file)) from None
    _held[key] = (handle, count + 1)
    return key, count == 0


def release(key: Path) -> None:
    """Drop one claim; the last one unlocks, for another process to claim."""
    handle, count = _held[key]
    if count > 1:
        _held[key] = (handle, count - 1)
        return
    del _held[key]
    handle.close()
