"""Keycloak 26.7.3 for real: the cached distribution (downloaded with mvn on first use) and a local JDK."""

import json
import os
from pathlib import Path

import httpx
import pytest

from sandbox.backends.keycloak.process import group_members

pytestmark = pytest.mark.keycloak


def test_discovery_names_the_localhost_issuer(real_keycloak) -> None:
    launcher, info = real_keycloak
    discovery = httpx.get(f"{info.realm_url}/.well-known/openid-configuration").json()
    assert info.realm_url == f"http://localhost:{launcher.port}/realms/sandbox"
    assert discovery["issuer"] == info.realm_url
    assert discovery["token_endpoint"].startswith(f"{info.realm_url}/")
    # Dynamic client registration is why 26.6+ is pinned.
    assert discovery["registration_endpoint"] == f"{info.realm_url}/clients-registrations/openid-connect"


def test_jwks_has_a_signing_key(real_keycloak) -> None:
    _, info = real_keycloak
    jwks_uri = httpx.get(f"{info.realm_url}/.well-known/openid-configuration").json()["jwks_uri"]
    keys = httpx.get(jwks_uri).json()["keys"]
    assert any(key["kty"] == "RSA" and key.get("use") == "sig" for key in keys)


def test_alice_gets_a_token_on_the_public_client(real_keycloak, realm_file: Path) -> None:
    _, info = real_keycloak
    clients = json.loads(realm_file.read_text())["clients"]
    public = [c for c in clients if c.get("publicClient") and c.get("directAccessGrantsEnabled")]
    assert public, f"{realm_file.name} lost its public client with direct access grants (the CLI test client)"
    response = httpx.post(
        f"{info.realm_url}/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": public[0]["clientId"], "username": "alice", "password": "alice"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"].lower() == "bearer"


def test_the_admin_user_was_bootstrapped(real_keycloak) -> None:
    _, info = real_keycloak
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


def test_stop_leaves_no_java_process(real_keycloak) -> None:
    launcher, info = real_keycloak
    pgid = launcher._group.pgid
    run_home = str(launcher.run_home)
    launcher.stop()

    assert group_members(pgid) == []
    assert not [pid for pid in _java_pids() if run_home in _cmdline(pid)]
    assert not Path(run_home).exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(info.realm_url)


def _java_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and "java" in _cmdline(int(p))]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
