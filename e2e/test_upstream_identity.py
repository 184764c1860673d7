"""Upstream mode, identity: the upstream learns who signed in from headers the sandbox sets,
never from the client's token, and cannot be lied to by the client's own headers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastmcp import Client
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
    settings = session_sandbox_settings("upstream-echo", tmp_path_factory.mktemp("state"), upstream=echo_url, upstream_headers=rules)
    with running_sandbox(settings) as running:
        yield running


@pytest.fixture(scope="module")
def token_sandbox(session_sandbox_settings, echo_url, tmp_path_factory) -> Iterator[RunningSandbox]:
    settings = session_sandbox_settings("upstream-token", tmp_path_factory.mktemp("state"), upstream=echo_url, upstream_token=True)
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


async def test_upstream_token_is_minted_for_the_upstream(token_sandbox: RunningSandbox, echo_url: str) -> None:
    seen = await upstream_headers(token_sandbox.mcp_url, "alice")
    scheme, _, credential = seen["authorization"].partition(" ")
    assert scheme == "Bearer"
    jwks = httpx.get(token_sandbox.base_url + JWKS_PATH).json()
    claims = jwt.decode(credential, KeySet.import_key_set(jwks)).claims
    assert claims["aud"] == echo_url  # not the MCP URL: the client's own token is not what goes upstream
    assert claims["iss"] == token_sandbox.base_url
    assert claims["preferred_username"] == "alice"
    assert "mcp-admin" in claims["roles"]
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert seen["x-forwarded-user"] == "alice"  # default headers are sent alongside
