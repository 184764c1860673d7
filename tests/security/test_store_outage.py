"""A token checked while the store is gone is an outage, not an invalid token.

``test_fastmcp_*`` shows the weakness on FastMCP's plain ``OAuthProxy`` and FAILS once
FastMCP lets the store's error through: then delete ``StoreOutageTokens`` in
sandbox/store_outage.py, and this test. Its twin shows the sandbox's answer.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx
import pytest
from fastmcp.server.auth.oauth_proxy import OAuthProxy
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.applications import Starlette

from sandbox.redis_store import redis_store
from sandbox.store_outage import StoreOutageTokens, outage_cause
from sandbox.testing.server import free_port
from tests.security.offline_proxy import offline_proxy


class SandboxProxy(StoreOutageTokens, OAuthProxy):
    """FastMCP's proxy with the sandbox's outage check."""


def proxy_without_redis(kind: type[OAuthProxy]) -> Any:
    """A proxy whose store is a Redis nobody listens for (a free port)."""
    proxy = offline_proxy(kind, redis_store(f"redis://127.0.0.1:{free_port()}/0"))
    proxy.set_mcp_path("/mcp")  # creates FastMCP's JWT issuer
    return proxy


def signed_token(proxy: Any) -> str:
    """A token FastMCP signed itself: only the store can say whether it is still good."""
    return proxy.jwt_issuer.issue_access_token(client_id="c", scopes=["openid"], jti=secrets.token_urlsafe(16))


async def test_fastmcp_calls_a_token_invalid_when_the_store_is_gone(caplog: pytest.LogCaptureFixture):
    proxy = proxy_without_redis(OAuthProxy)
    with caplog.at_level(logging.DEBUG, logger="fastmcp"):
        # None is "no such token": the client is told to throw its tokens away and register again.
        assert await proxy.load_access_token(signed_token(proxy)) is None
    # ...because the store's lookup failed, not because the token was bad.
    assert any(
        "Token swap validation failed" in r.getMessage() and "connecting" in r.getMessage() for r in caplog.records
    )


async def test_sandbox_lets_the_outage_through():
    proxy = proxy_without_redis(SandboxProxy)
    with pytest.raises(RedisConnectionError):
        await proxy.load_access_token(signed_token(proxy))


def test_the_outage_is_found_inside_task_groups_and_causes():
    cause = RedisConnectionError("gone")
    try:
        raise RuntimeError("wrapped") from cause
    except RuntimeError as wrapped:
        grouped = ExceptionGroup("task group", [ValueError("other"), wrapped])
    assert outage_cause(grouped) is cause
    assert outage_cause(ExceptionGroup("task group", [ValueError("other")])) is None


async def callback_without_redis(kind: type[OAuthProxy]) -> httpx.Response:
    """The IdP's redirect back to the proxy's callback, while the store is gone."""
    app = Starlette(routes=proxy_without_redis(kind).get_routes("/mcp"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost:8000") as http:
        return await http.get("/auth/callback", params={"code": "upstream-code", "state": "txn"})


async def test_fastmcp_answers_the_callback_with_its_500_page_when_the_store_is_gone():
    response = await callback_without_redis(OAuthProxy)
    assert response.status_code == 500
    assert "Internal server error during OAuth callback processing" in response.text


async def test_sandbox_lets_the_callback_outage_through():
    with pytest.raises(RedisConnectionError):
        await callback_without_redis(SandboxProxy)
