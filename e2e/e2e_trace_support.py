"""A sandbox for the flow-trace suites: its own realm file with fresh secrets, and what to look for."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sandbox.settings import DEFAULT_REALM_FILE
from sandbox.testing.server import IsolatedSettings, RunningSandbox, free_port, running_sandbox

# Kinds every authorization records, in order (MCP calls and JWKS fetches left out).
PROXY_AUTH_KINDS = [
    "unauthorized",
    "prm_discovery",
    "as_metadata",
    "registration",
    "authorize",
    "consent_shown",
    "consent_decided",
    "upstream_redirect",
    "idp_authorize",
    "idp_login",
    "callback",
    "upstream_token_exchange",
    "token_exchange",
    "token_issued",
]
NATIVE_AUTH_KINDS = [
    "unauthorized",
    "prm_discovery",
    "as_metadata",
    "registration",
    "idp_authorize",
    "idp_login",
    "token_exchange",
    "token_issued",
]
INCIDENTAL_KINDS = {"mcp_call", "jwks", "idp_consent"}


@dataclass
class SecretRealm:
    path: Path
    passwords: dict[str, str]
    secrets: list[str] = field(default_factory=list)


def secret_realm(directory: Path) -> SecretRealm:
    """The sandbox realm with every secret replaced by a fresh random one (the demo passwords equal
    the user names, so they could not show that a password never reaches the trace)."""
    data = json.loads(DEFAULT_REALM_FILE.read_text())
    found: list[str] = []
    passwords: dict[str, str] = {}
    for client in data["clients"]:
        if client.get("secret"):
            client["secret"] = f"client-secret-{secrets.token_hex(12)}"
            found.append(client["secret"])
    for user in data["users"]:
        for credential in user.get("credentials", []):
            credential["value"] = f"pw-{user['username']}-{secrets.token_hex(8)}"
            passwords[user["username"]] = credential["value"]
            found.append(credential["value"])
    path = directory / "realm.json"
    path.write_text(json.dumps(data))
    return SecretRealm(path, passwords, found)


@contextmanager
def traced_sandbox(directory: Path, mode: str) -> Iterator[tuple[RunningSandbox, SecretRealm]]:
    realm = secret_realm(directory)
    settings = IsolatedSettings(
        backend="mock",
        port=free_port(),
        state_dir=directory / "state",
        realm_file=realm.path,
        mode=mode,
        store="memory",
    )
    with running_sandbox(settings) as running:
        yield running, realm


class EventReader:
    """Reads the trace's Server-Sent Events stream in the background, keeping all it received."""

    def __init__(self, base_url: str) -> None:
        self.url = f"{base_url}/sandbox/trace/events"
        self.text: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._task: asyncio.Task | None = None
        self._connected = asyncio.Event()

    async def _read(self) -> None:
        async with httpx.AsyncClient(timeout=None) as http, http.stream("GET", self.url) as response:
            self._connected.set()
            async for line in response.aiter_lines():
                self.text.append(line)
                if line.startswith("data: "):
                    self.events.append(json.loads(line[6:]))

    async def __aenter__(self) -> EventReader:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._connected.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.sleep(0.2)  # let the last events arrive
        assert self._task is not None
        self._task.cancel()
        with suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._task


def auth_kinds(steps: list[dict[str, Any]]) -> list[str]:
    """The step kinds of a flow without incidental ones, repeated discovery probes collapsed."""
    kinds: list[str] = []
    for step in steps:
        if step["kind"] in INCIDENTAL_KINDS:
            continue
        if kinds and kinds[-1] == step["kind"] == "as_metadata":
            continue
        kinds.append(step["kind"])
    return kinds


async def upstream_tokens(running: RunningSandbox, proxy_access_token: str) -> list[str]:
    """The IdP's tokens the proxy keeps for a client (they never leave the server)."""
    from starlette.routing import Mount

    from sandbox.trace.masking import jwt_parts

    root = next(route for route in running.app.routes if isinstance(route, Mount) and route.path == "")
    proxy = root.app.state.fastmcp_auth
    claims = jwt_parts(proxy_access_token)[1]
    mapping = await proxy._jti_mapping_store.get(key=claims["jti"])
    tokens = await proxy._upstream_token_store.get(key=mapping.upstream_token_id)
    id_token = (tokens.raw_token_data or {}).get("id_token")
    return [token for token in (tokens.access_token, tokens.refresh_token, id_token) if token]
