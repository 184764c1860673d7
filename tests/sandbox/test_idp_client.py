"""The proxy's clients to the IdP (sandbox/idp_client.py): FastMCP builds one per upstream call and
per JWKS fetch, the sandbox keeps one of each.

``test_fastmcp_*`` run FastMCP's plain ``OAuthProxy`` / ``OIDCProxy`` and FAIL once FastMCP stops
building a new HTTP client (a new TLS context, a new connection) for every call to the IdP, or
gives its verifier a client: delete that part of sandbox/idp_client.py then, and its tests.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest
from fastmcp.server.auth.oauth_proxy import OAuthProxy
from fastmcp.server.auth.oauth_proxy.upstream import AsyncOAuth2Client
from fastmcp.server.auth.oidc_proxy import OIDCConfiguration, OIDCProxy
from fastmcp.server.auth.providers.jwt import JWTVerifier
from key_value.aio.stores.memory import MemoryStore

from sandbox.idp_client import SharedIdpClient, SharedJwksClient
from sandbox.trust_store import default_trust_store
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


async def test_a_client_made_in_the_background_is_the_one_calls_get_and_shutdown_closes() -> None:
    proxy = offline_proxy(Shared, MemoryStore())
    proxy.make_idp_client_in_background()
    first, second = await clients_of_two_calls(proxy)
    assert first is second
    await proxy.close_idp_client()
    assert first._client.is_closed


async def test_a_background_client_that_could_not_be_made_leaves_shutdown_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = offline_proxy(Shared, MemoryStore())

    def refused() -> AsyncOAuth2Client:
        raise RuntimeError("no client today")

    monkeypatch.setattr(proxy, "_create_upstream_oauth_client", refused)
    proxy.make_idp_client_in_background()
    with pytest.raises(RuntimeError, match="no client today"):  # where the client is wanted
        await clients_of_two_calls(proxy)
    await proxy.close_idp_client()  # and not again here
    monkeypatch.undo()
    first, second = await clients_of_two_calls(proxy)  # a later call makes one itself
    assert first is second
    await proxy.close_idp_client()


async def test_a_background_client_never_used_is_closed_at_shutdown() -> None:
    proxy = offline_proxy(Shared, MemoryStore())
    proxy.make_idp_client_in_background()
    made = await asyncio.wrap_future(proxy._idp_client_made)
    await proxy.close_idp_client()
    assert made._client.is_closed


ISSUER = "http://idp.invalid/realms/sandbox"
DISCOVERY = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/protocol/openid-connect/auth",
    "token_endpoint": f"{ISSUER}/protocol/openid-connect/token",
    "jwks_uri": f"{ISSUER}/protocol/openid-connect/certs",
    "response_types_supported": ["code"],
    "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["RS256"],
}


class HandedDiscovery(OIDCProxy):
    """FastMCP's OIDCProxy, given its discovery document instead of fetching it."""

    def get_oidc_configuration(self, *args: Any) -> OIDCConfiguration:
        return OIDCConfiguration.model_validate(DISCOVERY)


class SharedJwks(SharedJwksClient, HandedDiscovery):
    """That proxy with the sandbox's kept JWKS client."""


def verifier_of(kind: type[OIDCProxy]) -> JWTVerifier:
    return proxy_of(kind)._token_validator


def proxy_of(kind: type[OIDCProxy]) -> Any:
    proxy = kind(
        config_url=f"{ISSUER}/.well-known/openid-configuration",
        client_id="sandbox-proxy",
        client_secret="secret",
        audience="http://localhost:8000/mcp",
        required_scopes=["openid"],
        base_url="http://localhost:8000",
        jwt_signing_key=b"k" * 32,
        client_storage=MemoryStore(),
    )
    assert isinstance(proxy._token_validator, JWTVerifier)
    return proxy


def test_fastmcp_s_verifier_fetches_the_jwks_with_a_client_of_its_own_each_time() -> None:
    assert verifier_of(HandedDiscovery)._http_client is None


async def test_the_sandbox_s_verifier_is_fastmcp_s_with_one_kept_client(bundle_loads: list[object]) -> None:
    default_trust_store()  # the process's, loaded once, perhaps by an earlier test
    bundle_loads.clear()
    fastmcp, sandbox = verifier_of(HandedDiscovery), verifier_of(SharedJwks)
    checked = ("jwks_uri", "issuer", "audience", "algorithm", "required_scopes", "ssrf_safe", "public_key")
    assert {name: getattr(sandbox, name) for name in checked} == {name: getattr(fastmcp, name) for name in checked}
    assert isinstance(sandbox._http_client, httpx2.AsyncClient)
    assert bundle_loads == []  # the kept client verifies with the process's trust store
    await sandbox._http_client.aclose()


async def test_an_app_served_again_fetches_its_jwks_with_an_open_client() -> None:
    """Shutdown closes the kept client and gives the verifier a new one: a second lifespan works."""
    proxy = proxy_of(SharedJwks)
    verifier, first = proxy._token_validator, proxy.jwks_client
    assert verifier._http_client is first
    await proxy.close_jwks_client()
    assert first.is_closed
    assert verifier._http_client is proxy.jwks_client
    assert not proxy.jwks_client.is_closed
    await proxy.close_jwks_client()


async def test_the_kept_jwks_client_keeps_no_cookie() -> None:
    proxy = proxy_of(SharedJwks)
    request = httpx2.Request("GET", DISCOVERY["jwks_uri"])
    proxy.jwks_client.cookies.extract_cookies(
        httpx2.Response(200, headers={"set-cookie": "AWSALB=sticky-node-3; Path=/"}, request=request)
    )
    assert len(proxy.jwks_client.cookies) == 0
    await proxy.close_jwks_client()
