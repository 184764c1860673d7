import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sandbox.backends.keycloak import KeycloakStartError, distribution
from sandbox.backends.keycloak.distribution import DistributionLauncher
from sandbox.backends.keycloak.java import JavaNotFound, Jdk
from sandbox.backends.keycloak.process import group_members

FAKE_JDK = Jdk(Path("/opt/fake-jdk"), 25)


def hangs(pid_file: Path) -> str:
    """A kc.sh that "boots" forever, like a JVM that never gets ready; it records its pid (the group id)."""
    return f'echo $$ > "{pid_file}"; echo booting; sleep 300 & sleep 300 & wait\n'


def launcher_for(dist: Path, tmp_path: Path, realm: Path, ports: tuple[int, int], **kwargs) -> DistributionLauncher:
    http, management = ports
    return DistributionLauncher(
        realm,
        port=http,
        management_port=management,
        keycloak_home=dist,
        cache_dir=tmp_path / "cache",
        jdk=FAKE_JDK,
        **kwargs,
    )


def wait_for_file(path: Path, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while not path.is_file() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text().strip()


def test_command_line_and_environment(tmp_path: Path, make_distribution, minimal_realm: Path) -> None:
    launcher = launcher_for(make_distribution("exit 0\n"), tmp_path, minimal_realm, (8081, 9001))
    assert launcher.command()[1:] == [
        "start-dev",
        "--import-realm",
        "--hostname=http://localhost:8081",
        "--http-host=127.0.0.1",
        "--http-port=8081",
        "--http-management-host=127.0.0.1",
        "--http-management-port=9001",
        "--health-enabled=true",
        "--db=dev-mem",
    ]
    assert launcher.command()[0] == str(launcher.run_home / "bin" / "kc.sh")
    env = launcher.environment(FAKE_JDK)
    assert env["JAVA_HOME"] == "/opt/fake-jdk"
    assert (env["KC_BOOTSTRAP_ADMIN_USERNAME"], env["KC_BOOTSTRAP_ADMIN_PASSWORD"]) == ("admin", "admin")
    assert env["JAVA_OPTS_KC_HEAP"] == os.environ.get("JAVA_OPTS_KC_HEAP", "-Xms64m -Xmx512m")


def test_keep_state_uses_a_file_database_at_a_fixed_home(tmp_path: Path, make_distribution, minimal_realm) -> None:
    launcher = launcher_for(make_distribution("exit 0\n"), tmp_path, minimal_realm, (8081, 9001), keep_state=True)
    assert "--db=dev-file" in launcher.command()
    assert launcher.run_home == tmp_path / "cache" / "keycloak" / "state" / "26.7.3"


def test_early_exit_names_the_cause_and_the_log(
    tmp_path: Path, make_distribution, minimal_realm, two_free_ports
) -> None:
    dist = make_distribution("echo 'INFO starting'; echo 'ERROR: Unable to start HTTP server' >&2; exit 1\n")
    launcher = launcher_for(dist, tmp_path, minimal_realm, two_free_ports)

    with pytest.raises(KeycloakStartError) as raised:
        launcher.start()

    message = str(raised.value)
    assert message == f"Keycloak exited early (code 1): ERROR: Unable to start HTTP server (log: {launcher.log_file})"
    assert "\n" not in message
    assert not launcher.run_home.exists()
    assert launcher.log_file.read_text().endswith(f"launcher: {message}\n")


def test_not_ready_in_time_stops_the_process_group(
    tmp_path: Path, make_distribution, minimal_realm, two_free_ports
) -> None:
    dist = make_distribution(hangs(tmp_path / "kc.pid"))
    launcher = launcher_for(dist, tmp_path, minimal_realm, two_free_ports, ready_timeout=1)

    with pytest.raises(
        KeycloakStartError, match=r"^Keycloak not ready within 1s \(last: .*\) \(log: .*keycloak-\d+\.log\)$"
    ):
        launcher.start()

    assert group_members(int(wait_for_file(tmp_path / "kc.pid"))) == []
    assert "booting" in launcher.log_file.read_text()
    assert not launcher.run_home.exists()


def test_ctrl_c_during_boot_leaves_no_process(
    tmp_path: Path, make_distribution, minimal_realm, two_free_ports, monkeypatch
) -> None:
    pid_file = tmp_path / "kc.pid"
    launcher = launcher_for(make_distribution(hangs(pid_file)), tmp_path, minimal_realm, two_free_ports)

    def interrupt_once_booting(self) -> None:
        if pid_file.is_file() and pid_file.read_text().strip():
            raise KeyboardInterrupt

    monkeypatch.setattr(distribution.BootLog, "poll", interrupt_once_booting)
    with pytest.raises(KeyboardInterrupt):
        launcher.start()
    assert group_members(int(pid_file.read_text())) == []
    assert not launcher.run_home.exists()


def test_sigterm_to_python_stops_the_jvm(tmp_path: Path, make_distribution, minimal_realm, two_free_ports) -> None:
    """A `kill <python pid>` mid-boot still stops the whole Keycloak process group and removes the run home."""
    dist = make_distribution(hangs(tmp_path / "kc.pid"))
    http, management = two_free_ports
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from sandbox.backends.keycloak.distribution import DistributionLauncher
        from sandbox.backends.keycloak.java import Jdk
        DistributionLauncher(
            Path({str(minimal_realm)!r}), port={http}, management_port={management},
            keycloak_home=Path({str(dist)!r}), cache_dir=Path({str(tmp_path / "cache")!r}),
            jdk=Jdk(Path("/opt/fake-jdk"), 25),
        ).start()
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])
    try:
        pgid = int(wait_for_file(tmp_path / "kc.pid"))
        assert group_members(pgid)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 128 + signal.SIGTERM
        assert group_members(pgid) == []
        assert list((tmp_path / "cache" / "keycloak" / "runs").iterdir()) == []
    finally:
        child.kill()


def test_port_in_use_is_refused_before_starting(
    tmp_path: Path, make_distribution, minimal_realm, two_free_ports
) -> None:
    _http, management = two_free_ports
    launcher = launcher_for(make_distribution(hangs(tmp_path / "kc.pid")), tmp_path, minimal_realm, two_free_ports)
    launcher.log_file.parent.mkdir(parents=True, exist_ok=True)
    launcher.log_file.write_text("the log of the Keycloak already on this port\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", management))
        busy.listen()
        with pytest.raises(KeycloakStartError, match=f"^port {management} is already in use"):
            launcher.start()
    assert not launcher.run_home.exists()
    # That port's log belongs to whoever holds the port: it is left as it was.
    assert launcher.log_file.read_text() == "the log of the Keycloak already on this port\n"


def test_missing_java_is_one_line(tmp_path: Path, make_distribution, minimal_realm, monkeypatch) -> None:
    def no_java() -> Jdk:
        raise JavaNotFound("no JDK 17+ found (checked JAVA_HOME, PATH, /usr/lib/jvm; found: none)")

    monkeypatch.setattr(distribution, "find_jdk", no_java)
    launcher = launcher_for(make_distribution(hangs(tmp_path / "kc.pid")), tmp_path, minimal_realm, (8081, 9001))
    launcher.jdk = None
    with pytest.raises(KeycloakStartError, match=r"^no JDK 17\+ found .*found: none\) \(log: "):
        launcher.start()


def test_a_keycloak_home_without_kc_sh_is_refused(tmp_path: Path, minimal_realm) -> None:
    launcher = launcher_for(tmp_path / "empty", tmp_path, minimal_realm, (8081, 9001))
    with pytest.raises(KeycloakStartError, match="is not a Keycloak distribution"):
        launcher.start()


def test_a_missing_realm_file_is_refused(tmp_path: Path, make_distribution) -> None:
    launcher = launcher_for(
        make_distribution(hangs(tmp_path / "kc.pid")), tmp_path, tmp_path / "nope.json", (8081, 9001)
    )
    with pytest.raises(KeycloakStartError, match=r"^realm file not found: .*nope\.json \(log: "):
        launcher.start()


def test_stop_before_start_and_twice_is_harmless(tmp_path: Path, make_distribution, minimal_realm) -> None:
    launcher = launcher_for(make_distribution(hangs(tmp_path / "kc.pid")), tmp_path, minimal_realm, (8081, 9001))
    launcher.stop()
    launcher.stop()
    assert launcher.process_group is None and not launcher.run_home.exists()
