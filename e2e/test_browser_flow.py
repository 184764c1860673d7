"""A person in a real Chromium: the proxy's consent page, then the IdP's login page."""

from __future__ import annotations

import asyncio

import pytest
from fastmcp import Client
from fastmcp.client.auth import OAuth
from key_value.aio.stores.memory import MemoryStore

from sandbox.testing.pages import ConsentPage, LoginPage

pytestmark = pytest.mark.browser


class BrowserOAuth(OAuth):
    """FastMCP's OAuth with its real loopback callback server; the test drives the browser."""

    def __init__(self, **kwargs) -> None:
        super().__init__(token_storage=MemoryStore(), **kwargs)
        self.authorization_urls: asyncio.Queue[str] = asyncio.Queue()

    async def redirect_handler(self, authorization_url: str) -> None:
        await self.authorization_urls.put(authorization_url)


async def greet_as_signed_in_user(mcp_url: str, auth: BrowserOAuth) -> str:
    async with Client(mcp_url, auth=auth) as client:
        return (await client.call_tool("greet", {"name": "browser"})).data


async def test_consent_then_wrong_password_then_success(sandbox, browser_page):
    page, trail = browser_page
    auth = BrowserOAuth(callback_timeout=60)
    client_task = asyncio.create_task(greet_as_signed_in_user(sandbox.mcp_url, auth))
    try:
        await page.goto(await asyncio.wait_for(auth.authorization_urls.get(), 30))

        consent = await ConsentPage(page, trail).wait()
        assert await page.get_by_text("Allow Access").is_visible()
        # The logo is the sandbox's own, inline: it shows offline too.
        logo = await page.eval_on_selector(
            "img.logo", "img => ({src: img.src.slice(0, 26), shown: img.complete && img.naturalWidth > 0})"
        )
        assert logo == {"src": "data:image/svg+xml;base64,", "shown": True}
        await consent.approve()

        login = await LoginPage(page, trail).wait()
        await login.login("alice", "wrong-password")
        assert "Invalid username or password" in await login.error()
        assert not client_task.done()  # nothing was issued

        await login.login("alice", "alice")
        greeting = await asyncio.wait_for(client_task, 30)
    finally:
        client_task.cancel()
    assert greeting == "Hello, browser! You are signed in as alice (roles: mcp-admin, mcp-user)."
    assert page.url.startswith(f"http://localhost:{auth.redirect_port}/callback")


async def test_denied_consent_sends_access_denied_to_the_client(sandbox, browser_page):
    page, trail = browser_page
    auth = BrowserOAuth(callback_timeout=60)
    client_task = asyncio.create_task(greet_as_signed_in_user(sandbox.mcp_url, auth))
    try:
        await page.goto(await asyncio.wait_for(auth.authorization_urls.get(), 30))
        await (await ConsentPage(page, trail).wait()).deny()
        with pytest.raises(Exception) as failure:
            await asyncio.wait_for(client_task, 30)
    finally:
        client_task.cancel()
    # FastMCP's callback server turns error=access_denied into this message for the client.
    assert "denied by the authorization server" in str(failure.value)
    assert "error=access_denied" in page.url
    assert await page.locator("form#kc-form-login").count() == 0  # the IdP was never asked
