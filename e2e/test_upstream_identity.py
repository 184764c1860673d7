"""Upstream mode, identity: the upstream learns who signed in from headers the sandbox sets,
never from the client's token, and cannot be lied to by the client's own headers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import mcp_types
import pytest
from fastmcp import Client
from fastmcp.client.logging import LogMessage
from fastmcp.client.transports import StreamableHttpTransport
from joserfc import jwt
from joserfc.jwk import KeySet
from key_value.aio.stores.memory import MemoryStore

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.server import RunningSandbox, running_sandbox
from sandbox.testing.upstreams import header_echo_server, serve_in_thread
from sandbox.upstream.token import JWKS_PATH


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with serve_in_thread(header_echo_server()) as url:
        yield url


@pytest.fixture(scope="module")
def echo_sandbox(session_sandbox_settings, echo_url, tmp_path_factory) -> Iterator[RunningSandbox]:
    rules = ["X-User-Id=sub", "X-Forwarded-Email=", "X-Forwarded-Roles:X-Roles"]
    settings = session_sandbox_settings(
        "upstream-echo", tmp_path_factory.mktemp("state"), upstream=echo_url, upstream_headers=rules
    )
    with running_sandbox(settings) as running:
        yield running


@pytest.fixture(scope="module")
def token_sandbox(session_sandbox_settings, echo_url, tmp_path_factory) -> Iterator[RunningSandbox]:
    settings = session_sandbox_settings(
        "upstream-token", tmp_path_factory.mktemp("state"), upstream=echo_url, upstream_token=True
    )
    with running_sandbox(settings) as running:
        yield running


def client(mcp_url: str, user: str, headers: dict[str, str] | None = None) -> Client:
    auth = HeadlessOAuth(HeadlessBrowser(user, user), token_storage=MemoryStore())
    return Client(StreamableHttpTransport(mcp_url, headers=headers or {}, auth=auth))


async def upstream_headers(mcp_url: str, user: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    async with client(mcp_url, user, headers) as signed_in:
        return (await signed_in.call_tool("headers", {})).data


async def test_upstream_sees_the_user_and_no_token(echo_sandbox: RunningSandbox) -> None:
    seen = await upstream_headers(echo_sandbox.mcp_url, "alice")
    assert seen["x-forwarded-user"] == "alice"
    assert "mcp-admin" in seen["x-roles"].split(",")  # renamed from X-Forwarded-Roles
    assert "x-forwarded-roles" not in seen
    assert "x-forwarded-email" not in seen  # removed by the rule
    assert seen["x-user-id"]  # added: the subject
    assert "openid" in seen["x-forwarded-scopes"].split(" ")
    assert "authorization" not in seen
    assert "cookie" not in seen


async def test_each_user_gets_their_own_headers(echo_sandbox: RunningSandbox) -> None:
    seen = await upstream_headers(echo_sandbox.mcp_url, "bob")
    assert seen["x-forwarded-user"] == "bob"
    assert "mcp-admin" not in seen["x-roles"].split(",")


async def test_client_cannot_forge_identity_headers(echo_sandbox: RunningSandbox) -> None:
    forged = {"X-Forwarded-User": "alice", "X-Roles": "mcp-admin", "X-Anything": "passed?"}
    seen = await upstream_headers(echo_sandbox.mcp_url, "bob", forged)
    assert seen["x-forwarded-user"] == "bob"
    assert "mcp-admin" not in seen["x-roles"]
    assert "x-anything" not in seen


async def test_logging_and_list_changed_reach_the_client(echo_sandbox: RunningSandbox) -> None:
    logged: list[str] = []
    changed: list[object] = []

    async def on_log(message: LogMessage) -> None:
        logged.append(str(message.data.get("msg") if isinstance(message.data, dict) else message.data))

    async def on_message(message: object) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            changed.append(message)

    auth = HeadlessOAuth(HeadlessBrowser("alice", "alice"), token_storage=MemoryStore())
    async with Client(
        echo_sandbox.mcp_url, auth=auth, mode="legacy", log_handler=on_log, message_handler=on_message
    ) as signed_in:
        assert (await signed_in.call_tool("notify", {})).data == "notified"
    assert "a log message from the upstream" in logged
    assert changed


async def test_upstream_token_is_minted_for_the_upstream(token_sandbox: RunningSandbox, echo_url: str) -> None:
    seen = await upstream_headers(token_sandbox.mcp_url, "alice")
    scheme, _, credential = seen["authorization"].partition(" ")
    assert scheme == "Bearer"
    async with httpx.AsyncClient() as http:
        jwks = (await http.get(token_sandbox.base_url + JWKS_PATH)).json()
    claims = jwt.decode(credential, KeySet.import_key_set(jwks)).claims
    assert claims["aud"] == echo_url  # not the MCP URL: the client's own token is not what goes upstream
    assert claims["iss"] == token_sandbox.base_url
    assert claims["preferred_username"] == "alice"
    assert "mcp-admin" in claims["roles"]
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert seen["x-forwarded-user"] == "alice"  # default headers are sent alongside


def upstream_steps(sandbox: RunningSandbox) -> list[dict]:
    flows = httpx.get(sandbox.base_url + "/sandbox/trace.json").json()["flows"]
    return [step for flow in flows for step in flow["steps"] if step["kind"] == "upstream_mcp"]


async def test_the_trace_shows_the_upstream_hop_masked(
    echo_sandbox: RunningSandbox, token_sandbox: RunningSandbox
) -> None:
    await upstream_headers(echo_sandbox.mcp_url, "alice")
    plain = [step for step in upstream_steps(echo_sandbox) if step["note"] == "tools/call headers"]
    assert plain, "no upstream hop recorded for the tools/call"
    assert plain[-1]["source"] == "proxy" and plain[-1]["target"] == "upstream"
    assert plain[-1]["params"]["header x-forwarded-user"] == "alice"
    assert not any(name == "header authorization" for step in plain for name in step["params"])

    await upstream_headers(token_sandbox.mcp_url, "alice")
    minted = [step for step in upstream_steps(token_sandbox) if step["note"] == "tools/call headers"][-1]
    shown = minted["params"]["header authorization"]
    assert shown.startswith("Bearer ") and shown.endswith("…") and len(shown) < 30  # a prefix, never the whole token
    assert minted["jwts"][0]["claims"]["preferred_username"] == "alice"
    async with httpx.AsyncClient() as http:
        mermaid = (await http.get(f"{token_sandbox.base_url}/sandbox/trace/{minted['flow_id']}.mmd")).text
    assert "participant U as Upstream MCP server" in mermaid and "P->>U: POST /mcp" in mermaid
