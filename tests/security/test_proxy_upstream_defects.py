"""FastMCP's own proxy still has each weakness the sandbox works around.

Every ``test_fastmcp_*`` test below shows one weakness on FastMCP's plain ``OAuthProxy``
(no sandbox code) and FAILS once FastMCP fixes it: then delete the matching override in
sandbox/proxy_workarounds.py or guard in sandbox/proxy_routes.py, and this test. Each
``test_sandbox_*`` twin shows the same call through the sandbox's workaround.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from fastmcp.server.auth.oauth_proxy import OAuthProxy
from fastmcp.server.auth.oauth_proxy.models import ClientCode
from mcp.server.auth.handlers.revoke import RevocationRequest
from mcp.server.auth.provider import TokenError
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata
from pydantic import AnyUrl, ValidationError
from starlette.applications import Starlette

from sandbox.proxy_routes import redirect_uri_problem
from sandbox.proxy_workarounds import ProxyWorkarounds
from sandbox.refresh_errors import RefreshErrors, UpstreamRefreshFailed
from sandbox.replay_detection import ReplayDetection
from sandbox.state import StateDir
from tests.security.offline_proxy import offline_proxy

PUBLISHED_SECRET = "the-secret-in-realms-sandbox.json"
REDIRECT = "http://127.0.0.1:53111/callback"


class FakeUpstream:
    """The IdP's token endpoint for refreshes: counts calls, answers slowly, rotates the token."""

    def __init__(self) -> None:
        self.calls = 0

    async def refresh_token(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        await asyncio.sleep(0.2)  # long enough for every concurrent refresh to be under way
        return {
            "access_token": secrets.token_urlsafe(16),
            "refresh_token": secrets.token_urlsafe(16),
            "expires_in": 300,
            "token_type": "Bearer",
            "scope": "openid",
        }


class UpstreamStub:
    """What the proxy needs of an upstream, without a network."""

    upstream: FakeUpstream

    @asynccontextmanager
    async def _upstream_oauth_client(self) -> AsyncIterator[FakeUpstream]:
        yield self.upstream


class BareProxy(UpstreamStub, OAuthProxy):
    """FastMCP's proxy exactly as it ships."""


class SandboxProxy(RefreshErrors, ReplayDetection, ProxyWorkarounds, UpstreamStub, OAuthProxy):
    """FastMCP's proxy with the sandbox's workarounds."""


def make(kind: type[OAuthProxy], state: Path) -> Any:
    storage = StateDir(state).client_storage("file")  # the sandbox's store
    if kind is BareProxy:
        # Beneath its memory cache (sandbox/store_cache.py) and its sign-ins kept in memory, whose
        # reads do not await: FastMCP's defects below need reads that await, as every read of a
        # shared store (Redis) does, and of the file store after a restart.
        storage = StateDir(state).encrypted_storage("file")
    options: dict[str, Any] = {"upstream_client_secret": PUBLISHED_SECRET}
    if kind is SandboxProxy:
        options["consent_key"] = StateDir(state).consent_cookie_key()
    proxy = offline_proxy(kind, storage, **options)
    proxy.upstream = FakeUpstream()
    proxy.set_mcp_path("/mcp")  # creates FastMCP's JWT issuer, as get_routes() would
    return proxy


@pytest.fixture(params=[BareProxy, SandboxProxy], ids=["fastmcp", "sandbox"])
def proxy(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return make(request.param, tmp_path)


def fixed(proxy: Any) -> bool:
    return isinstance(proxy, ProxyWorkarounds)


async def registered(proxy: Any) -> OAuthClientInformationFull:
    info = OAuthClientInformationFull(
        client_id=secrets.token_hex(8), redirect_uris=[AnyUrl(REDIRECT)], token_endpoint_auth_method="none"
    )
    await proxy.register_client(info)
    return await proxy.get_client(info.client_id)


async def issued_code(proxy: Any, client: OAuthClientInformationFull, upstream: dict[str, Any] | None = None) -> str:
    """A code as FastMCP's callback stores it after the upstream exchange (that gave ``upstream``)."""
    code = secrets.token_urlsafe(32)
    upstream = upstream or {
        "access_token": "upstream-at",
        "refresh_token": "upstream-rt",
        "expires_in": 300,
        "scope": "openid",
    }
    await proxy._code_store.put(
        key=code,
        value=ClientCode(
            code=code,
            client_id=client.client_id,
            redirect_uri=REDIRECT,
            code_challenge="c",
            code_challenge_method="S256",
            scopes=["openid"],
            idp_tokens=upstream,
            expires_at=time.time() + 300,
            created_at=time.time(),
        ),
        ttl=300,
    )
    return code


async def redeem_concurrently(proxy: Any, client: OAuthClientInformationFull, code: str, times: int) -> list[Any]:
    async def once() -> Any:
        loaded = await proxy.load_authorization_code(client, code)
        if loaded is None:
            return None
        return await proxy.exchange_authorization_code(client, loaded)

    return await asyncio.gather(*(once() for _ in range(times)), return_exceptions=True)


async def test_concurrent_redemptions_of_one_code(proxy):
    """FastMCP proxy.py:1368-1404: the code is read, then deleted several awaits later."""
    client = await registered(proxy)
    results = await redeem_concurrently(proxy, client, await issued_code(proxy, client), 8)
    token_sets = [r for r in results if hasattr(r, "access_token")]
    assert all(r is None or hasattr(r, "access_token") or isinstance(r, TokenError) for r in results), results
    if fixed(proxy):
        assert len(token_sets) == 1
    else:
        assert len(token_sets) > 1, (
            "FastMCP now redeems a code once under concurrency: delete exchange_authorization_code"
        )


async def test_concurrent_refreshes_with_one_refresh_token(proxy):
    """FastMCP proxy.py:1888: every concurrent refresh calls the upstream token endpoint."""
    client = await registered(proxy)
    loaded = await proxy.load_authorization_code(client, await issued_code(proxy, client))
    refresh = (await proxy.exchange_authorization_code(client, loaded)).refresh_token

    async def once() -> Any:
        token = await proxy.load_refresh_token(client, refresh)
        return await proxy.exchange_refresh_token(client, token, ["openid"])

    results = await asyncio.gather(*(once() for _ in range(8)), return_exceptions=True)
    if fixed(proxy):
        assert proxy.upstream.calls == 1
        assert len({r.access_token for r in results}) == 1, results  # every waiter, the same answer
    else:
        assert proxy.upstream.calls > 1, "FastMCP now single-flights refreshes: delete exchange_refresh_token"


class UnavailableUpstream(FakeUpstream):
    """The IdP's token endpoint answering 503, as FastMCP's upstream client reports it."""

    async def refresh_token(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        request = httpx2.Request("POST", "http://idp.invalid/token")
        response = httpx2.Response(503, request=request)
        raise httpx2.HTTPStatusError("Server error '503 Service Unavailable'", request=request, response=response)


async def test_an_idp_outage_at_refresh(proxy):
    """FastMCP proxy.py:1895: only the IdP's invalid_grant becomes a TokenError; an outage
    escapes the SDK's token handler as a 500 (sandbox/refresh_errors.py). Then the retry."""
    client = await registered(proxy)
    loaded = await proxy.load_authorization_code(client, await issued_code(proxy, client))
    refresh = (await proxy.exchange_authorization_code(client, loaded)).refresh_token
    proxy.upstream = UnavailableUpstream()
    with pytest.raises(Exception) as raised:
        await proxy.exchange_refresh_token(client, await proxy.load_refresh_token(client, refresh), ["openid"])
    if fixed(proxy):
        assert isinstance(raised.value, UpstreamRefreshFailed), raised.value
        assert (raised.value.status, raised.value.error) == (503, "temporarily_unavailable")
        proxy.upstream = FakeUpstream()  # the IdP is back: the retry goes upstream, not to the failure
        again = await proxy.exchange_refresh_token(client, await proxy.load_refresh_token(client, refresh), ["openid"])
        assert again.access_token and proxy.upstream.calls == 1
    else:
        assert isinstance(raised.value, httpx2.HTTPStatusError), (
            f"FastMCP now answers an IdP failing a refresh ({raised.value!r}): delete sandbox/refresh_errors.py"
        )


async def test_a_spent_refresh_token_presented_again(proxy, monkeypatch):
    """FastMCP proxy.py:1808: a rotated refresh token presented again at /token is refused, and
    nothing more: the newer refresh token of the grant keeps working (RFC 9700 §4.14.2 ends the
    grant). Presented to the proxy's routes, as the SDK's /token handler presents it."""
    monkeypatch.setattr("sandbox.replay_detection.GRACE_SECONDS", 0.0)
    client = await registered(proxy)
    loaded = await proxy.load_authorization_code(client, await issued_code(proxy, client))
    spent = (await proxy.exchange_authorization_code(client, loaded)).refresh_token
    form = {"grant_type": "refresh_token", "client_id": client.client_id}
    app = Starlette(routes=proxy.get_routes("/mcp"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost:8000") as http:
        newest = (await http.post("/token", data={**form, "refresh_token": spent})).json()
        replay = await http.post("/token", data={**form, "refresh_token": spent})
        assert replay.json()["error"] == "invalid_grant"
        after = await http.post("/token", data={**form, "refresh_token": newest["refresh_token"]})
    if fixed(proxy):
        assert (after.status_code, after.json()["error"]) == (401, "invalid_grant"), after.text
    else:
        assert after.status_code == 200, (
            "FastMCP now ends a grant whose spent refresh token comes back: delete sandbox/replay_detection.py"
        )


async def test_a_refresh_for_another_resource(proxy):
    """FastMCP checks RFC 8707's resource at /authorize (proxy.py:1200) and ignores it at /token:
    a refresh asking for another server's resource gets a token for this one (sandbox/token_resource.py)."""
    client = await registered(proxy)
    loaded = await proxy.load_authorization_code(client, await issued_code(proxy, client))
    refresh = (await proxy.exchange_authorization_code(client, loaded)).refresh_token
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": client.client_id}
    app = Starlette(routes=proxy.get_routes("/mcp"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost:8000") as http:
        answer = await http.post("/token", data={**form, "resource": "https://evil.example/mcp"})
        if fixed(proxy):
            assert (answer.status_code, answer.json()["error"]) == (400, "invalid_target"), answer.text
            own = await http.post("/token", data={**form, "resource": "http://localhost:8000/mcp"})
            assert own.status_code == 200, own.text
        else:
            assert answer.status_code == 200, (
                f"FastMCP now checks the resource at /token ({answer.text}): delete sandbox/token_resource.py"
            )


async def test_revoked_access_token_still_loads(proxy):
    """FastMCP proxy.py:2472: revoking an access token leaves the proxy's reference to it."""
    client = await registered(proxy)
    loaded = await proxy.load_authorization_code(client, await issued_code(proxy, client))
    access = (await proxy.exchange_authorization_code(client, loaded)).access_token
    token = await proxy.load_access_token(access)
    assert token is not None
    await proxy.revoke_token(token)
    still = await proxy.load_access_token(access)
    if fixed(proxy):
        assert still is None
    else:
        assert still is not None, "FastMCP now invalidates revoked access tokens: delete revoke_token/load_access_token"


async def test_revoked_refresh_token_leaves_its_access_tokens(proxy):
    """FastMCP proxy.py:2476: revoking a refresh token deletes only that token's record."""
    client = await registered(proxy)
    loaded = await proxy.load_authorization_code(client, await issued_code(proxy, client))
    grant = await proxy.exchange_authorization_code(client, loaded)
    await proxy.revoke_token(await proxy.load_refresh_token(client, grant.refresh_token))
    assert await proxy.load_refresh_token(client, grant.refresh_token) is None
    still = await proxy.load_access_token(grant.access_token)
    if fixed(proxy):
        assert still is None
    else:
        assert still is not None, "FastMCP now ends the grant with its refresh token: delete _end_grant"


async def test_unregistered_loopback_redirect_uri(proxy):
    """FastMCP proxy.py:991 and models.py:342: a stored client is checked against the patterns only."""
    client = await registered(proxy)
    other_port = AnyUrl("http://127.0.0.1:60000/callback")
    assert client.validate_redirect_uri(other_port) == other_port  # RFC 8252 §7.3: the loopback port may vary
    unregistered = AnyUrl("http://localhost:60000/somewhere-else")
    if fixed(proxy):
        with pytest.raises(Exception, match="not registered"):
            client.validate_redirect_uri(unregistered)
    else:
        assert client.validate_redirect_uri(unregistered) == unregistered, (
            "FastMCP now holds clients to their registered redirect URIs: delete get_client"
        )


def test_consent_cookie_key(proxy):
    """FastMCP consent.py:144: consent cookies are signed with the upstream client secret."""
    if fixed(proxy):
        assert PUBLISHED_SECRET.encode() != proxy._cookie_signing_key()
    else:
        assert proxy._cookie_signing_key() == PUBLISHED_SECRET.encode(), (
            "FastMCP no longer keys consent cookies with the client secret: delete _cookie_signing_key"
        )


def test_fastmcp_revocation_requires_a_client_secret():
    """MCP SDK handlers/revoke.py RevocationRequest: ``client_secret: str | None`` has no default."""
    with pytest.raises(ValidationError, match="client_secret"):
        RevocationRequest.model_validate({"token": "t", "client_id": "public-client"})
    # Why the guard's empty field is enough: the model accepts it.
    assert RevocationRequest.model_validate({"token": "t", "client_id": "c", "client_secret": ""}).client_secret == ""


async def test_fastmcp_registration_has_no_limits(tmp_path):
    """FastMCP register_client / SDK OAuthClientMetadata: any number of URIs, fragments, any size."""
    uris = [f"http://127.0.0.1:{1000 + n}/cb#fragment" for n in range(1000)]
    metadata = OAuthClientMetadata.model_validate({"redirect_uris": uris, "client_name": "x" * 1_000_000})
    proxy = make(BareProxy, tmp_path)
    info = OAuthClientInformationFull(client_id="big", **metadata.model_dump(exclude_none=True))
    await proxy.register_client(info)  # no RegistrationError: FastMCP stores it
    assert len((await proxy.get_client("big")).redirect_uris) == 1000
    # The sandbox's guard refuses both.
    assert "at most 20" in redirect_uri_problem(b'{"redirect_uris": %s}' % str(uris[:21]).replace("'", '"').encode())
    assert "fragment" in redirect_uri_problem(b'{"redirect_uris": ["http://127.0.0.1:1/cb#x"]}')
