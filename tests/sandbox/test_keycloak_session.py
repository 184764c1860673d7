"""The session's shared Keycloak, with a stand-in launcher: one boot, ports its realm lists."""

from pathlib import Path

import pytest

from sandbox.backends.keycloak import KeycloakStartError
from sandbox.backends.keycloak.base import KeycloakInfo
from sandbox.testing import keycloak_session, server
from sandbox.testing.keycloak_session import RESERVED_PORTS, SessionKeycloak


class FakeLauncher:
    def __init__(self, base_urls: list[str], fail: bool) -> None:
        self.base_urls = base_urls
        self.fail = fail
        self.starts = 0
        self.stops = 0

    def start(self) -> KeycloakInfo:
        self.starts += 1
        if self.fail:
            raise KeycloakStartError("port 1 is already in use")
        return KeycloakInfo("http://localhost:1/realms/sandbox", "http://localhost:1", "admin", "admin", None)

    def stop(self) -> None:
        self.stops += 1


class Launchers(list):
    """Every launcher the session made; `fail` makes the next ones fail to start."""

    fail = False


@pytest.fixture
def launchers(monkeypatch: pytest.MonkeyPatch) -> Launchers:
    made = Launchers()

    def shared_keycloak_launcher(base_urls: list[str], directory: Path, *, realm_file: Path) -> FakeLauncher:
        made.append(FakeLauncher(base_urls, fail=made.fail))
        return made[-1]

    monkeypatch.setattr(server, "shared_keycloak_launcher", shared_keycloak_launcher)
    return made


def test_one_boot_whose_realm_lists_every_port_handed_out(launchers, tmp_path_factory) -> None:
    shared = SessionKeycloak(tmp_path_factory)
    claimed = [shared.claim_port() for _ in range(RESERVED_PORTS)]
    assert shared.claim_port() is None  # then a sandbox gets a Keycloak of its own
    assert shared.start() == shared.start()
    assert len(launchers) == 1 and launchers[0].starts == 1
    assert launchers[0].base_urls == [f"http://localhost:{port}" for port in claimed]
    shared.stop()
    assert launchers[0].stops == 1


def test_a_failed_boot_is_not_retried_by_every_test(launchers, tmp_path_factory) -> None:
    launchers.fail = True
    shared = SessionKeycloak(tmp_path_factory)
    for _ in range(2):
        with pytest.raises(KeycloakStartError, match="port 1 is already in use"):
            shared.start()
    assert len(launchers) == 1
    shared.stop()  # nothing was running
    assert launchers[0].stops == 0


def test_only_the_projects_realm_can_be_shared(tmp_path) -> None:
    assert keycloak_session.default_realm(keycloak_session.DEFAULT_REALM_FILE)
    assert not keycloak_session.default_realm(tmp_path / "my-realm.json")
