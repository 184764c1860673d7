"""The proxy's file store writes without an io_uring SQPOLL thread spinning a core (sandbox/__init__.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sandbox.testing.server import clean_environment

# Writes one record through the sandbox's own file store, then names the threads the
# process has and the caio backend aiofile used.
WRITE_ONE_RECORD = """
import asyncio, os, sys
from pathlib import Path
from sandbox.state import StateDir
import caio

async def main():
    store = StateDir(Path(sys.argv[1])).client_storage("file")
    await store.put("k", {"v": 1}, collection="c")
    assert await store.get("k", collection="c") == {"v": 1}
    threads = {Path(f"/proc/self/task/{t}/comm").read_text().strip() for t in os.listdir("/proc/self/task")}
    print(caio.AsyncioContext.__module__, *sorted(threads))

asyncio.run(main())
"""


def write_one_record(state: Path, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", WRITE_ONE_RECORD, str(state)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_file_store_writes_through_caio_threads_not_a_polling_kernel_thread(tmp_path: Path) -> None:
    backend, *threads = write_one_record(tmp_path, {k: v for k, v in clean_environment().items() if k != "CAIO_IMPL"})
    assert backend == "caio.thread_aio_asyncio"
    assert not [name for name in threads if name.startswith("iou-sqp")], threads


def test_caio_impl_set_by_the_user_wins(tmp_path: Path) -> None:
    backend, *_ = write_one_record(tmp_path, clean_environment() | {"CAIO_IMPL": "python"})
    assert backend == "caio.python_aio_asyncio"
