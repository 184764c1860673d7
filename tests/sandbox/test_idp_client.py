"""The proxy's client to the IdP (sandbox/idp_client.py): FastMCP builds one per upstream call, the sandbox keeps one.

``test_fastmcp_*`` runs FastMCP's plain ``OAuthProxy`` and FAILS once FastMCP stops building
a new HTTP client (a new TLS context, a new connection) for every call to the IdP: delete
sandbox/idp_client.py then, and this file.
"""

from __future__ import annotations

from typing import Any

import httpx2
from fastmcp.server.auth.oauth_proxy import OAuthProxy
from fastmcp.server.auth.oauth_proxy.upstream import AsyncOAuth2Client
from key_value.aio.stores.memory import MemoryStore

from sandbox.idp_client import SharedIdpClient
from tests.security.offline_proxy import offline_proxy


class Shared(SharedIdpClient, OAuthProxy):
    """FastMCP's proxy with the sandbox's shared IdP client."""


async def clients_of_two_calls(proxy: Any) -> list[AsyncOAuth2Client]:
    """The client each of two upstream calls gets, as FastMCP's callback and refresh take it."""
    used = []
    for _ in range(2):
        async with proxy._upstream_oauth_client() as client:
            assert not client._client.is_closed
            used.append(client)
    return used


async def test_fastmcp_builds_and_closes_a_client_per_upstream_call() -> None:
    first, second = await clients_of_two_calls(offline_proxy(OAuthProxy, MemoryStore()))
    assert first is not second
    assert first._client.is_closed and second._client.is_closed


async def test_sandbox_keeps_one_client_until_shutdown() -> None:
    proxy = offline_proxy(Shared, MemoryStore())
    first, second = await clients_of_two_calls(proxy)
    assert first is second
    assert not first._client.is_closed
    await proxy.close_idp_client()
    assert first._client.is_closed
    (again, _) = await clients_of_two_calls(proxy)
    assert again is not first and not again._client.is_closed
    await proxy.close_idp_client()


async def test_the_shared_client_keeps_no_cookie_from_one_user_s_call_for_the_next() -> None:
    """A cookie an IdP (or a balancer in front of it) sets on a token response is not kept."""
    proxy = offline_proxy(Shared, MemoryStore())
    async with proxy._upstream_oauth_client() as client:
        http = client._client
        request = httpx2.Request("POST", "http://idp.test/realms/sandbox/protocol/openid-connect/token")
        answer = httpx2.Response(200, headers={"set-cookie": "sticky=replica-1; Path=/"}, request=request)
        http.cookies.extract_cookies(answer)
        assert len(http.cookies) == 0
    await proxy.close_idp_client()
