"""Crash-safe file writes for the state directory.

A write goes to a temp file named for the writer's pid, is flushed to disk, then renamed
over the target: readers, and a restart after ``kill -9``, see the old file or the new
one, never half of one. A kill between the two leaves the temp file; the next start
removes those whose writer is gone (:func:`remove_stale_temp_files`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mock_idp.processes import pid_alive

TEMP_SUFFIX = ".tmp"


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write via a temp file + ``os.replace`` so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            # On disk before the rename: after an OS crash the name points at the old
            # data or the new, never at an empty file (the directory is not synced, as
            # FastMCP's file store does not sync it either).
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Delete the temp files of writers that died mid-write; a live writer's are left alone."""
    removed = []
    for tmp in directory.glob(f".*{TEMP_SUFFIX}"):
        pid = tmp.name.removesuffix(TEMP_SUFFIX).rpartition(".")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def move_aside(path: Path) -> Path:
    """Rename an unusable file out of the way; stored data is never deleted."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    os.replace(path, target)
    return target
