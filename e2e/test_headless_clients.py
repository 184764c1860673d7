"""Real MCP clients complete the proxy flow headlessly and use the sample tools as the signed-in user."""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest
from fastmcp import Client as FastMCPClient
from key_value.aio.stores.memory import MemoryStore
from mcp import Client as SDKClient
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from sandbox.testing.headless import AuthorizationDenied, HeadlessBrowser, HeadlessOAuth, LoginFailed


def fastmcp_client(mcp_url: str, browser: HeadlessBrowser, storage: MemoryStore | None = None) -> FastMCPClient:
    return FastMCPClient(mcp_url, auth=HeadlessOAuth(browser, token_storage=storage or MemoryStore()))


class InMemoryTokenStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def sdk_auth(mcp_url: str, browser: HeadlessBrowser, storage: InMemoryTokenStorage) -> OAuthClientProvider:
    results = []

    async def redirect_handler(url: str) -> None:
        results.append(await browser.authorize(url))

    async def callback_handler():
        return results.pop()

    return OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="MCP SDK e2e",
            redirect_uris=["http://127.0.0.1:53682/callback"],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )


@pytest.mark.parametrize("user, roles", [("alice", "mcp-admin, mcp-user"), ("bob", "mcp-user")])
async def test_fastmcp_client_uses_tools_resource_and_prompt(sandbox, headless_browser, user, roles):
    browser = headless_browser(user)
    async with fastmcp_client(sandbox.mcp_url, browser) as client:
        greeting = await client.call_tool("greet", {"name": "world"})
        assert greeting.data == f"Hello, world! You are signed in as {user} (roles: {roles})."

        config = json.loads((await client.read_resource("resource://server/config"))[0].text)
        assert config["mcp_url"] == sandbox.mcp_url
        assert config["upstream_client_id"] == "sandbox-proxy"
        assert "secret" not in json.dumps(config).lower()

        prompt = await client.get_prompt("explain_oauth_flow")
        text = prompt.messages[0].content.text
        for phase in (
            "Discovery",
            "Registration",
            "dual PKCE",
            "Consent",
            "Upstream login",
            "Callback",
            "Token exchange",
        ):
            assert phase in text
    assert browser.pages == (["consent", "login"] if sandbox.settings.consent else ["login"])


@pytest.mark.parametrize("user", ["alice", "bob"])
async def test_mcp_sdk_client_calls_greet_as_the_user(sandbox, headless_browser, user):
    storage = InMemoryTokenStorage()
    auth = sdk_auth(sandbox.mcp_url, headless_browser(user), storage)
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30) as http,
        SDKClient(streamable_http_client(sandbox.mcp_url, http_client=http)) as client,
    ):
        result = await client.call_tool("greet", {"name": "SDK"})
    assert f"signed in as {user}" in result.content[0].text
    assert storage.tokens is not None and storage.client_info is not None
    # The client holds the proxy's token, never the IdP's: its issuer is the proxy.
    assert storage.tokens.access_token.count(".") == 2
    claims = _unverified_claims(storage.tokens.access_token)
    assert claims["iss"].rstrip("/") == sandbox.base_url
    assert claims["aud"] == sandbox.mcp_url


async def test_second_connection_reuses_stored_tokens(sandbox, headless_browser):
    browser = headless_browser("alice")
    storage = MemoryStore()
    async with fastmcp_client(sandbox.mcp_url, browser, storage) as client:
        await client.call_tool("greet", {"name": "first"})
    assert browser.pages  # the first connection went through the browser step

    browser.pages = []
    second_browser = headless_browser("alice")
    async with fastmcp_client(sandbox.mcp_url, second_browser, storage) as client:
        greeting = await client.call_tool("greet", {"name": "second"})
    assert "signed in as alice" in greeting.data
    assert second_browser.pages == []  # no redirect step: stored tokens were used


async def test_refresh_after_access_token_expires(short_lived_sandbox, headless_browser):
    browser = headless_browser("bob")
    storage = InMemoryTokenStorage()
    auth = sdk_auth(short_lived_sandbox.mcp_url, browser, storage)
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30) as http,
        SDKClient(streamable_http_client(short_lived_sandbox.mcp_url, http_client=http)) as client,
    ):
        await client.call_tool("greet", {"name": "before"})
        first_token = storage.tokens.access_token
        assert storage.tokens.expires_in <= 2
        await asyncio.sleep(3)
        browser.pages = []
        result = await client.call_tool("greet", {"name": "after"})
    assert "signed in as bob" in result.content[0].text
    assert storage.tokens.access_token != first_token  # a refresh grant replaced it
    assert browser.pages == []  # without going back through the browser


async def test_wrong_password_is_refused_and_nothing_is_issued(sandbox):
    browser = HeadlessBrowser("alice", "not-her-password")
    auth = HeadlessOAuth(browser, token_storage=MemoryStore())
    with pytest.raises(RuntimeError) as failure:
        async with FastMCPClient(sandbox.mcp_url, auth=auth) as client:
            await client.call_tool("greet", {"name": "nobody"})
    assert isinstance(cause_of(failure.value, LoginFailed), LoginFailed)
    assert await auth.token_storage_adapter.get_tokens() is None
    assert browser.pages == (["consent", "login"] if sandbox.settings.consent else ["login"])


async def test_denied_consent_reaches_the_client_as_access_denied(sandbox):
    if not sandbox.settings.consent:
        pytest.skip("this sandbox runs without a consent screen")
    browser = HeadlessBrowser("alice", "alice", consent="deny")
    with pytest.raises(RuntimeError) as failure:
        async with fastmcp_client(sandbox.mcp_url, browser) as client:
            await client.call_tool("greet", {"name": "nobody"})
    denied = cause_of(failure.value, AuthorizationDenied)
    assert isinstance(denied, AuthorizationDenied)
    assert denied.error == "access_denied"
    assert browser.pages == ["consent"]  # never reached the IdP


def cause_of(error: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of ``kind`` in the chain FastMCP's client wraps around it."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, kind):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _unverified_claims(token: str) -> dict:
    import base64

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
