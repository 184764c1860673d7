"""The Redis store: two mock IdPs on one Redis act as one (sandbox replicas, issue 16).

Runs a real redis-server on a Unix socket of its own (no TCP port), or skips with one line.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from mockidp_support import BASE, OIDC, PROXY, PROXY_REDIRECT, VERIFIER, admin_token, browser, code_tokens, login

from mock_idp import create_app
from mock_idp.storage import StoreError

pytestmark = pytest.mark.mock_only


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    socket = tmp_path / "redis.sock"
    process = subprocess.Popen(
        [server, "--port", "0", "--unixsocket", str(socket), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(500):  # readiness, not timing: poll until it answers
            try:
                if socket.exists() and redis.Redis(unix_socket_path=str(socket)).ping():
                    break
            except redis.ConnectionError:
                pass
            time.sleep(0.01)
        yield f"unix://{socket}"
    finally:
        process.terminate()
        process.wait()


def _replicas(realm: dict[str, Any], url: str, tmp_path: Path) -> tuple[Any, Any]:
    return tuple(  # type: ignore[return-value]
        create_app(realm, issuer_base=BASE, state_dir=tmp_path / name, store=url) for name in ("a", "b")
    )


async def _redeem(http: httpx.AsyncClient, code: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": PROXY_REDIRECT, "code_verifier": VERIFIER}
    return await http.post(f"{OIDC}/token", auth=PROXY, data=data)


async def test_a_flow_may_hop_between_replicas(realm_dict, redis_url, tmp_path) -> None:
    a, b = _replicas(realm_dict, redis_url, tmp_path)
    async with browser(a) as on_a, browser(b) as on_b:
        code = (await login(on_a))["code"]
        first, replay = await _redeem(on_b, code), await _redeem(on_a, code)
        assert first.status_code == 200, first.text
        assert replay.json()["error_description"] == "Code not valid"
        tokens = await code_tokens(on_b)  # a login on the other replica
        info = await on_a.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert info.status_code == 200 and info.json()["preferred_username"] == "alice"
        refreshed = await on_a.post(
            f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200, refreshed.text


async def test_registrations_and_admin_changes_are_seen_by_every_replica(realm_dict, redis_url, tmp_path) -> None:
    a, b = _replicas(realm_dict, redis_url, tmp_path)
    async with browser(a) as on_a, browser(b) as on_b:
        registered = await on_a.post(
            "/realms/sandbox/clients-registrations/openid-connect", json={"redirect_uris": ["http://localhost:5000/cb"]}
        )
        assert b.state.idp.find_client(registered.json()["client_id"]) is not None
        created = await on_a.post(
            "/admin/realms/sandbox/users",
            headers=await admin_token(on_b),
            json={
                "username": "carol",
                "email": "carol@example.com",
                "firstName": "Carol",
                "lastName": "C",
                "credentials": [{"type": "password", "value": "carol"}],
            },
        )
        assert created.status_code == 201, created.text
        assert "code" in await login(on_b, "carol")


def test_an_unreachable_redis_is_one_line(realm_dict, tmp_path) -> None:
    with pytest.raises(StoreError, match=r"^the mock IdP's store is unreachable: Redis at unix://"):
        create_app(realm_dict, issuer_base=BASE, state_dir=tmp_path, store=f"unix://{tmp_path}/none.sock")


def _cut_off(socket: Path) -> Path:
    """The server runs on, unreachable: its socket renamed, every client connection closed."""
    moved = socket.rename(socket.with_name("moved.sock"))
    redis.Redis(unix_socket_path=str(moved)).client_kill_filter(_type="normal")
    return moved


async def test_redis_lost_mid_run_is_an_oauth_error_then_recovers(realm_dict, redis_url, tmp_path) -> None:
    app = create_app(realm_dict, issuer_base=BASE, state_dir=tmp_path / "a", store=redis_url)
    socket = Path(redis_url.removeprefix("unix://"))
    async with browser(app) as http:
        code = (await login(http))["code"]
        moved = _cut_off(socket)
        lost = await _redeem(http, code)
        assert lost.status_code == 503 and lost.json()["error"] == "temporarily_unavailable", lost.text
        moved.rename(socket)
        assert (await _redeem(http, code)).status_code == 200
