"""mock_idp/claims.py: a state file claimed by one process at a time, counted within one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mock_idp.claims import InUseError, claim, release

HOLD = "import sys, time; from mock_idp.claims import claim; from pathlib import Path; claim(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)"


def test_another_process_is_refused_until_the_holder_ends(tmp_path: Path) -> None:
    lock = tmp_path / "state" / "state.json.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(InUseError):
            claim(lock)
    finally:
        holder.kill()  # kill -9: the kernel drops its lock
        holder.wait()
    key, first = claim(lock)
    assert first
    release(key)


def another_process_can_claim(lock: Path) -> bool:
    once = HOLD.replace("time.sleep(60)", "pass")
    return subprocess.run([sys.executable, "-c", once, str(lock)], timeout=30, capture_output=True).returncode == 0


def test_claims_within_one_process_are_counted(tmp_path: Path) -> None:
    lock = tmp_path / "state.json.lock"
    key, first = claim(lock)
    again, second_first = claim(lock)
    assert (first, second_first, again) == (True, False, key)
    release(key)
    assert not another_process_can_claim(lock)  # still held here by the second claim
    release(again)
    assert another_process_can_claim(lock)
