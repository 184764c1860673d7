"""``--store redis://``, ``--state-secret-file`` and ``--public-url``: start-up errors, what lands
in Redis, and a Redis that goes away and comes back under a connected client."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from fastmcp import Client

from sandbox.state import StateDir, StateSecretError
from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.redis_server import RedisServer, redis_server_missing
from sandbox.testing.server import IsolatedSettings, free_port, running_sandbox
from tests.sandbox.test_cli import assert_one_line_error, run_cli

needs_redis = pytest.mark.skipif(bool(redis_server_missing()), reason=redis_server_missing() or "")


def test_redis_down_at_start_up_is_one_line(tmp_path: Path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run_cli("--store", url, "--state-dir", str(tmp_path))
    assert_one_line_error(result, f"the store {url} does not answer", "--store file")


@pytest.mark.parametrize(
    ("store", "needle"),
    [
        ("postgres://localhost/db", "use file, memory or redis://"),
        ("redis://", "names no Redis host"),
        ("redis://localhost:6379/zero", "must be a number"),
    ],
)
def test_a_bad_store_is_one_line(tmp_path: Path, store: str, needle: str):
    assert_one_line_error(run_cli("--store", store, "--state-dir", str(tmp_path)), "--store", needle)


def test_a_password_never_reaches_the_error_line(tmp_path: Path):
    result = run_cli("--store", f"redis://user:hunter2@127.0.0.1:{free_port()}/0", "--state-dir", str(tmp_path))
    assert_one_line_error(result, "redis://user:***@127.0.0.1")
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("url", "needle"),
    [("http://sandbox.example.com", "plain http is only trusted"), ("http://localhost:8000/mcp", "no path")],
)
def test_a_bad_public_url_is_one_line(tmp_path: Path, url: str, needle: str):
    assert_one_line_error(run_cli("--public-url", url, "--state-dir", str(tmp_path)), "--public-url", needle)


def test_the_public_url_is_every_url_clients_see(tmp_path: Path):
    settings = IsolatedSettings(state_dir=tmp_path, port=8391, public_url="https://sandbox.example.com/")
    assert settings.base_url == "https://sandbox.example.com"
    assert settings.mcp_url == "https://sandbox.example.com/mcp"


def test_a_shared_secret_is_made_once_owner_only_and_read_by_every_replica(tmp_path: Path):
    secret_file = tmp_path / "shared" / "secret"
    secret_file.parent.mkdir()
    first = StateDir(tmp_path / "replica-1", secret_file=secret_file).proxy_secret()
    second = StateDir(tmp_path / "replica-2", secret_file=secret_file).proxy_secret()
    assert first == second and len(first) == 32
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    assert not list(secret_file.parent.glob(".*tmp"))


def test_a_shared_secret_of_the_wrong_size_is_refused_not_replaced(tmp_path: Path):
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(b"too short")
    with pytest.raises(StateSecretError, match="holds 9 bytes, not 32"):
        StateDir(tmp_path, secret_file=secret_file).proxy_secret()
    assert secret_file.read_bytes() == b"too short"
    assert_one_line_error(
        run_cli("--state-secret-file", str(secret_file), "--state-dir", str(tmp_path)), "holds 9 bytes, not 32"
    )


def test_the_state_directorys_own_secret_of_the_wrong_size_is_refused_not_replaced(tmp_path: Path):
    """<state-dir>/proxy-secret.key with a trailing newline used to be replaced by a new secret
    without a word, and every registration and token stored under the old one read as missing."""
    own = tmp_path / "proxy-secret.key"
    own.write_bytes(os.urandom(32) + b"\n")
    kept = own.read_bytes()
    with pytest.raises(StateSecretError, match="holds 33 bytes, not 32"):
        StateDir(tmp_path).proxy_secret()
    assert own.read_bytes() == kept
    assert_one_line_error(run_cli("--state-dir", str(tmp_path)), "holds 33 bytes, not 32")
    assert own.read_bytes() == kept


def test_an_unreadable_shared_secret_is_one_line(tmp_path: Path):
    (tmp_path / "a-directory").mkdir()  # unreadable as a file, even for root
    result = run_cli("--state-secret-file", str(tmp_path / "a-directory"), "--state-dir", str(tmp_path))
    assert_one_line_error(result, "state secret file", "is not readable")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if missing := redis_server_missing():
        pytest.skip(missing)
    with RedisServer(tmp_path / "redis") as server:
        yield server


async def greet(url: str, auth: HeadlessOAuth) -> str:
    async with Client(url, auth=auth, timeout=60) as client:
        return str((await client.call_tool("greet", {"name": "x"})).data)


@needs_redis
async def test_the_proxy_keeps_its_state_in_redis_encrypted_with_ttls(tmp_path: Path, redis_server: RedisServer):
    settings = IsolatedSettings(state_dir=tmp_path / "state", port=free_port(), store=redis_server.url)
    with running_sandbox(settings) as sandbox:
        assert "alice" in await greet(sandbox.mcp_url, HeadlessOAuth(HeadlessBrowser("alice", "alice")))
    keys = redis.Redis(port=redis_server.port, decode_responses=True)
    # The proxy's collections (the embedded mock IdP keeps its own keys in the same Redis).
    entries = {key: keys.ttl(key) for key in keys.scan_iter("mcp-*")}
    collections = {key.split("::")[0] for key in entries}
    assert {"mcp-oauth-proxy-clients", "mcp-upstream-tokens", "mcp-jti-mappings", "mcp-refresh-tokens"} <= collections
    # Tokens expire in Redis as FastMCP asked; registrations stay.
    assert all(ttl > 0 for key, ttl in entries.items() if key.startswith(("mcp-jti-mappings", "mcp-upstream-tokens")))
    stored = " ".join(keys.get(key) or "" for key in entries)
    assert "alice" not in stored and "access_token" not in stored  # encrypted, as the file store is


@needs_redis
async def test_a_lost_redis_is_an_outage_to_clients_and_they_recover(tmp_path: Path, redis_server: RedisServer):
    settings = IsolatedSettings(state_dir=tmp_path / "state", port=free_port(), store=redis_server.url)
    with running_sandbox(settings) as sandbox:
        auth = HeadlessOAuth(HeadlessBrowser("bob", "bob"))
        async with Client(sandbox.mcp_url, auth=auth, timeout=60) as client:
            assert "bob" in str((await client.call_tool("greet", {"name": "x"})).data)
            token = auth.context.current_tokens.access_token  # type: ignore[union-attr]
            redis_server.stop()
            async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=60) as http:
                registered = await http.post("/register", json={"redirect_uris": ["http://localhost:5000/cb"]})
                call = await http.post(
                    "/mcp",
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
                    json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                )
            assert (registered.status_code, registered.json()["error"]) == (503, "temporarily_unavailable")
            assert registered.headers["retry-after"]
            # Not 401 invalid_token, which would make the client drop its tokens.
            assert call.status_code == 503 and call.json()["error"]["code"] == -32603
            assert "store is unavailable" in call.json()["error"]["message"]
            redis_server.start()
            assert "bob" in str((await client.call_tool("greet", {"name": "x"})).data)
