import time
from pathlib import Path

from sandbox.backends.keycloak.process import ProcessGroup, group_members


def spawn(tmp_path: Path, script: str) -> ProcessGroup:
    with (tmp_path / "out.log").open("ab") as output:
        group = ProcessGroup.spawn(["sh", "-c", script], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, output=output)
    # Wait until the shell has forked its children, as kc.sh forks the JVM.
    deadline = time.monotonic() + 5
    while len(group_members(group.pgid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    return group


def test_stop_kills_the_whole_group(tmp_path: Path) -> None:
    group = spawn(tmp_path, "sleep 300 & sleep 300 & wait")
    members = group_members(group.pgid)
    assert len(members) == 3

    group.stop()

    assert group_members(group.pgid) == []
    assert group.exit_code() is not None
    assert not group.alive()


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    group = spawn(tmp_path, "trap '' TERM; sleep 300 & sleep 300 & wait")
    started = time.monotonic()
    group.stop(grace=0.5)
    assert group_members(group.pgid) == []
    assert time.monotonic() - started < 5


def test_stop_is_idempotent(tmp_path: Path) -> None:
    group = spawn(tmp_path, "sleep 300 & sleep 300 & wait")
    group.stop()
    group.stop()
    assert not group.alive()


def test_the_child_leads_its_own_session(tmp_path: Path) -> None:
    import os

    group = spawn(tmp_path, "sleep 300 & sleep 300 & wait")
    try:
        assert os.getsid(group.pid) == group.pid != os.getsid(0)
    finally:
        group.stop()
