"""Keycloak 26.7.3 for real, as the launcher started it for this run (`make test-keycloak`):
the container (testcontainers) or the cached distribution with a local JDK, whichever
SANDBOX_KEYCLOAK_LAUNCHER asks for. The session's one Keycloak (sandbox/testing/keycloak_session.py)
serves these, every e2e test and the plugin's Keycloak tests."""

import json
import os
import socket
from pathlib import Path

import httpx
import pytest

from sandbox.backends.keycloak.container import ContainerLauncher
from sandbox.backends.keycloak.distribution import DistributionLauncher
from sandbox.backends.keycloak.process import group_members
from sandbox.settings import DEFAULT_REALM_FILE

pytestmark = pytest.mark.keycloak


def running(launcher):
    # auto wraps the container launcher with its distribution fallback; the one that ran is `active`.
    return getattr(launcher, "active", launcher)


def test_the_launcher_asked_for_is_the_one_that_ran(keycloak) -> None:
    launcher, _ = keycloak
    asked = os.environ.get("SANDBOX_KEYCLOAK_LAUNCHER") or "auto"
    expected = {"container": ContainerLauncher, "distribution": DistributionLauncher}.get(asked)
    if expected is None:  # auto: either, and the choice is reported
        expected = (ContainerLauncher, DistributionLauncher)
    # A CI pass meant for the container must not have run the distribution instead, or vice versa.
    assert isinstance(running(launcher), expected), f"asked for {asked}, ran {type(running(launcher)).__name__}"


def test_discovery_names_the_localhost_issuer(keycloak) -> None:
    launcher, info = keycloak
    discovery = httpx.get(f"{info.realm_url}/.well-known/openid-configuration").json()
    assert info.realm_url == f"http://localhost:{running(launcher).port}/realms/sandbox"
    assert discovery["issuer"] == info.realm_url
    assert discovery["token_endpoint"].startswith(f"{info.realm_url}/")
    # Dynamic client registration is why 26.6+ is pinned.
    assert discovery["registration_endpoint"] == f"{info.realm_url}/clients-registrations/openid-connect"


def test_jwks_has_a_signing_key(keycloak) -> None:
    _, info = keycloak
    jwks_uri = httpx.get(f"{info.realm_url}/.well-known/openid-configuration").json()["jwks_uri"]
    keys = httpx.get(jwks_uri).json()["keys"]
    assert any(key["kty"] == "RSA" and key.get("use") == "sig" for key in keys)


def test_alice_gets_a_token_on_the_public_client(keycloak) -> None:
    _, info = keycloak
    clients = json.loads(DEFAULT_REALM_FILE.read_text())["clients"]
    public = [c for c in clients if c.get("publicClient") and c.get("directAccessGrantsEnabled")]
    assert public, f"{DEFAULT_REALM_FILE.name} lost its public client with direct access grants (the CLI test client)"
    response = httpx.post(
        f"{info.realm_url}/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": public[0]["clientId"], "username": "alice", "password": "alice"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"].lower() == "bearer"


def test_the_admin_user_was_bootstrapped(keycloak) -> None:
    _, info = keycloak
    response = httpx.post(
        f"{info.base_url}/realms/master/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": info.admin_username,
            "password": info.admin_password,
        },
    )
    assert response.status_code == 200, response.text


@pytest.mark.stops_keycloak
def test_stop_leaves_nothing_running(keycloak) -> None:
    launcher, info = keycloak
    ran = running(launcher)
    if isinstance(ran, ContainerLauncher):
        import docker
        import docker.errors

        container_id = ran.container_id
        launcher.stop()
        client = docker.from_env()
        try:
            with pytest.raises(docker.errors.NotFound):
                client.containers.get(container_id)
        finally:
            client.close()
        # The container's output outlives it, in the file its errors name.
        assert "Keycloak 26.7.3 on JVM" in Path(info.log_file).read_text(errors="replace")
    else:
        group = ran.process_group
        assert group is not None
        pgid = group.pgid
        run_home = str(ran.run_home)
        launcher.stop()
        assert group_members(pgid) == []
        assert not [pid for pid in _java_pids() if run_home in _cmdline(pid)]
        assert not Path(run_home).exists()
    # Nothing listens any more. (A bare socket: which httpx exception class a refused connection
    # surfaces as depends on what else the session imported.)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", ran.port), timeout=10).close()


def _java_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and "java" in _cmdline(int(p))]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
