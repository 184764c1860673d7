"""``mock-idp --workers N``: N processes on one port, one IdP through a shared Redis store;
refused, in one line, with a store only one process can hold."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from mockidp_support import REALM_PATH, REPO

from sandbox.testing.redis_server import RedisServer, redis_server_missing

AGENT = "Basic c2FuZGJveC1hZ2VudDpzYW5kYm94LWFnZW50LXNlY3JldA=="  # sandbox-agent:sandbox-agent-secret
READY_SECONDS = 60.0


def _mock_idp(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "mock_idp", "--realm", str(REALM_PATH), "--port", "0", *args]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("store", ["file", "memory"])
def test_workers_refuse_a_store_of_one_process(tmp_path: Path, store: str) -> None:
    process = _mock_idp("--workers", "2", "--store", store, "--state-dir", str(tmp_path))
    out, err = process.communicate(timeout=30)
    assert process.returncode == 2 and out == ""
    assert err.strip().splitlines() == [
        f"mock-idp: error: --workers 2 needs a shared store (--store redis://HOST:PORT/DB): with the {store}"
        " store every worker would keep its own sessions, codes and tokens"
    ]


def test_workers_must_be_a_positive_number() -> None:
    process = _mock_idp("--workers", "0")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2 and "--workers: expected a whole number of at least 1, got '0'" in err


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    missing = redis_server_missing()
    if missing:
        pytest.skip(missing)
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server.url
    finally:
        server.stop()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == pid and b"spawn_main" in cmdline:  # uvicorn's workers, not the resource tracker
                found.append(int(entry.name))
    return found


def _owner(client_port: int, workers: list[int]) -> int | None:
    """The worker holding the server side of the loopback connection from ``client_port``."""
    inodes = set()
    for line in (
        Path("/proc/net/tcp").read_text().splitlines()[1:] + Path("/proc/net/tcp6").read_text().splitlines()[1:]
    ):
        fields = line.split()
        if int(fields[2].rsplit(":", 1)[1], 16) == client_port:  # its remote end is our client
            inodes.add(f"socket:[{fields[9]}]")
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    return None


def _request(conn: http.client.HTTPConnection, method: str, path: str, **headers: str) -> tuple[int, dict]:
    body = headers.pop("body", None)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


@pytest.fixture
def two_workers(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, int, list[int]]]:
    process = _mock_idp("--workers", "2", "--store", redis_url, "--state-dir", str(tmp_path / "state"))
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"at http://localhost:(\d+)(/realms/\S+)", banner)
        assert match, banner + (process.stderr.read() if process.poll() is not None and process.stderr else "")
        port, realm = int(match.group(1)), match.group(2)
        deadline = time.monotonic() + READY_SECONDS
        while len(workers := _children(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 2, f"workers: {workers}"
        yield realm, port, workers
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not _children(process.pid)


def test_a_token_issued_by_one_worker_is_honoured_by_the_other(two_workers: tuple[str, int, list[int]]) -> None:
    realm, port, workers = two_workers
    oidc = f"{realm}/protocol/openid-connect"
    by_worker: dict[int, http.client.HTTPConnection] = {}
    deadline = time.monotonic() + READY_SECONDS
    while len(by_worker) < 2 and time.monotonic() < deadline:  # connections until each worker holds one
        conn = http.client.HTTPConnection("localhost", port, timeout=10)
        try:
            status, _ = _request(conn, "GET", f"{oidc}/certs")
        except OSError:  # a worker still starting
            time.sleep(0.1)
            continue
        assert status == 200
        owner = _owner(conn.sock.getsockname()[1], workers)
        if owner is not None and owner not in by_worker:
            by_worker[owner] = conn
    assert len(by_worker) == 2, "no connection reached the second worker"
    issuer, verifier = (by_worker[pid] for pid in workers)
    form = "application/x-www-form-urlencoded"
    password = urlencode({"grant_type": "password", "username": "alice", "password": "alice", "scope": "openid"})
    status, tokens = _request(
        issuer, "POST", f"{oidc}/token", body=password, Authorization=AGENT, **{"Content-Type": form}
    )
    assert status == 200, tokens
    # The signing key, the session and the refresh token's record all live in Redis.
    status, info = _request(verifier, "GET", f"{oidc}/userinfo", Authorization=f"Bearer {tokens['access_token']}")
    assert status == 200 and info["preferred_username"] == "alice"
    refresh = urlencode({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    status, refreshed = _request(
        verifier, "POST", f"{oidc}/token", body=refresh, Authorization=AGENT, **{"Content-Type": form}
    )
    assert status == 200 and refreshed["session_state"] == tokens["session_state"]
