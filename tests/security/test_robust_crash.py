"""Crash safety: kill -9 during a burst of writes loses nothing that was acknowledged.

A real ``python -m sandbox`` process serves a burst of registrations, grants and refreshes
and is killed with SIGKILL in the middle of it; a new one starts on the same state
directory. Every registration, access token and refresh token the clients got a 2xx for
still works, and no temp file of the stores survives the restart.

Before: each kill left FastMCP's store temp files (``tmp*.tmp``) and the mock IdP's
(``.state.json.<pid>.tmp``) behind, and nothing ever removed them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from mock_idp.pkce import s256
from sandbox.testing.headless import HeadlessBrowser
from sandbox.testing.server import clean_environment, free_port

# It kills a mock sandbox of its own; `make test` runs it, the Keycloak run would only repeat it.
pytestmark = pytest.mark.mock_only
REDIRECT_URI = "http://localhost:43117/callback"
WORKERS = 4
# Kill once this many grants were acknowledged: enough of every kind of write is then done
# or under way (each worker registers, grants and refreshes in a loop).
KILL_AFTER_GRANTS = 6
MCP_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "crash-test", "version": "1"},
    },
}


@dataclass
class Chain:
    """One client's acknowledged state: what a 2xx handed it last."""

    client_id: str
    access_token: str | None = None
    refresh_token: str | None = None
    busy: bool = False  # a request was in flight: its outcome is unknown, so its tokens are not checked


@dataclass
class Burst:
    chains: list[Chain] = field(default_factory=list)
    grants: int = 0


@contextmanager
def sandbox_process(port: int, state_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "sandbox", "--port", str(port), "--state-dir", str(state_dir), "--backend", "mock"]
    process = subprocess.Popen(
        command, env=clean_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _wait_healthy(process, f"http://localhost:{port}")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"sandbox exited during start-up: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("sandbox not healthy after 120 s")


async def register(http: httpx.AsyncClient) -> str:
    response = await http.post(
        "/register",
        json={
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["client_id"]


async def grant(http: httpx.AsyncClient, client_id: str) -> dict[str, str]:
    verifier = secrets.token_urlsafe(48)
    base_url = str(http.base_url).rstrip("/")
    mcp_url = f"{base_url}/mcp"
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        "state": secrets.token_urlsafe(12),
        "scope": "openid profile email",
        "resource": mcp_url,
    }
    result = await HeadlessBrowser("alice", "alice").authorize(f"{base_url}/authorize?{urlencode(query)}")
    response = await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": result.code,
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "code_verifier": verifier,
            "resource": mcp_url,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


async def refresh(http: httpx.AsyncClient, chain: Chain) -> dict[str, str]:
    response = await http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": chain.refresh_token, "client_id": chain.client_id},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def worker(http: httpx.AsyncClient, burst: Burst) -> None:
    """Register, grant, refresh twice; again. Only a 2xx updates what the chain holds."""
    while True:
        chain = Chain(await register(http), busy=True)
        burst.chains.append(chain)
        tokens = await grant(http, chain.client_id)
        chain.access_token, chain.refresh_token = tokens["access_token"], tokens["refresh_token"]
        burst.grants += 1
        for _ in range(2):
            tokens = await refresh(http, chain)
            chain.access_token, chain.refresh_token = tokens["access_token"], tokens["refresh_token"]
        chain.busy = False


async def burst_then_kill(base_url: str, process: subprocess.Popen[bytes]) -> Burst:
    burst = Burst()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        tasks = [asyncio.create_task(worker(http, burst)) for _ in range(WORKERS)]
        while burst.grants < KILL_AFTER_GRANTS:
            done = [task for task in tasks if task.done()]
            if done:
                done[0].result()  # a worker failed before the kill: show why
            await asyncio.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)  # while the other workers' requests are in flight
        process.wait(timeout=30)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return burst


def temp_files(state_dir: Path) -> list[Path]:
    return sorted(state_dir.rglob("tmp*.tmp")) + sorted(state_dir.rglob(".*.tmp"))


async def test_kill_9_during_a_burst_loses_nothing_acknowledged(tmp_path: Path) -> None:
    port, state_dir = free_port(), tmp_path / "state"
    with sandbox_process(port, state_dir) as first:
        burst = await burst_then_kill(f"http://localhost:{port}", first)
    killed_pid = first.pid
    # What a kill inside a write leaves, in case this kill fell between writes.
    (state_dir / "proxy-store" / "tmpkilled1.tmp").write_text("{")
    (state_dir / "mock-idp" / f".state.json.{killed_pid}.tmp").write_text("{")

    idle = [chain for chain in burst.chains if not chain.busy]
    assert len(idle) >= 2 and len(burst.chains) > len(idle), (
        "the kill should land between acknowledged and in-flight work"
    )
    with sandbox_process(port, state_dir):
        assert temp_files(state_dir) == []
        async with httpx.AsyncClient(base_url=f"http://localhost:{port}", timeout=60) as http:
            for chain in idle:
                mcp = await http.post(
                    "/mcp", json=INITIALIZE, headers={**MCP_ACCEPT, "Authorization": f"Bearer {chain.access_token}"}
                )
                assert mcp.status_code == 200, f"access token of {chain.client_id}: {mcp.status_code} {mcp.text}"
                await refresh(http, chain)
            # Every acknowledged registration, the in-flight chains' too, still signs a user in.
            for chain in burst.chains:
                await grant(http, chain.client_id)
