"""A whole sign-in in a real Chromium: the proxy's consent page, the IdP's login page, back to the client.

:class:`BrowserLogin` is what the pytest plugin's ``browser_login`` fixture yields: the page,
the page objects (``consent``, ``login_page``, ``idp_consent``), a :meth:`BrowserLogin.login`
that walks an authorization URL as a person would, and :meth:`BrowserLogin.client`, a
FastMCP client whose OAuth redirect is answered in this browser.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Literal
from urllib.parse import parse_qs, urlparse

import anyio
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from key_value.aio.stores.memory import MemoryStore
from mcp.shared.auth import AuthorizationCodeResult
from playwright.async_api import Frame, Page, Request

from sandbox.testing.pages import ConsentPage, IdpConsentPage, LoginPage, PageTrail
from sandbox.testing.token_in_hand import TokenInHandOAuth

CONSENT, LOGIN, IDP_CONSENT = "form#consentForm", "form#kc-form-login", "#kc-oauth"
# FastMCP's "OAuth Error" page (e.g. the proxy's callback after a failed upstream code exchange).
PROXY_ERROR = ".info-box.error"
# How long FastMCP's loopback callback server may take to listen after it is asked for.
CALLBACK_LISTEN_SECONDS = 10.0


class BrowserLoginFailed(Exception):
    """The browser did not get back to the client's redirect URI; the message says where it stopped."""


class BrowserLogin:
    def __init__(
        self,
        page: Page,
        mcp_url: str,
        credentials: dict[str, str],
        *,
        timeout: float = 30.0,
        trail: PageTrail | None = None,
    ) -> None:
        self.page = page
        self.mcp_url = mcp_url
        self.credentials = credentials
        self.timeout = timeout
        self.trail = trail if trail is not None else PageTrail()
        # The pages answered on the last login, in order: "consent", "login", "idp-consent".
        self.pages: list[str] = []

    @property
    def consent(self) -> ConsentPage:
        return ConsentPage(self.page, self.trail)

    @property
    def login_page(self) -> LoginPage:
        return LoginPage(self.page, self.trail)

    @property
    def idp_consent(self) -> IdpConsentPage:
        return IdpConsentPage(self.page, self.trail)

    def password_of(self, user: str) -> str:
        password = self.credentials.get(user) or self.credentials.get(user.lower())
        if password is None:
            raise BrowserLoginFailed(f"no password known for {user!r}; pass password=...")
        return password

    async def login(
        self,
        authorization_url: str,
        user: str = "alice",
        password: str | None = None,
        *,
        consent: Literal["approve", "deny"] = "approve",
    ) -> str:
        """Open ``authorization_url``, answer consent and login; return the URL the browser was
        sent back to (the client's redirect URI with ``code`` or ``error``)."""
        password = password if password is not None else self.password_of(user)
        redirect_uri = parse_qs(urlparse(authorization_url).query).get("redirect_uri", [""])[0]
        if not redirect_uri:
            raise BrowserLoginFailed(f"authorization URL has no redirect_uri: {authorization_url}")
        arrived: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_request(request: Request) -> None:
            if request.url.startswith(redirect_uri) and not arrived.done():
                arrived.set_result(request.url)

        self.pages = []
        self.page.on("request", on_request)
        try:
            with anyio.fail_after(self.timeout):
                await self.page.goto(authorization_url)
                while not arrived.done():
                    selector = await self._next_page(arrived)
                    if selector is None:
                        break
                    # Listen before acting: the next page may commit before a later listener starts.
                    navigated = asyncio.ensure_future(
                        self.page.wait_for_event("framenavigated", predicate=self._is_main_frame, timeout=0)
                    )
                    try:
                        await self._answer(selector, user, password, consent)
                        racing: list[asyncio.Future[Frame] | asyncio.Future[str]] = [navigated, arrived]
                        await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        navigated.cancel()
                return await arrived
        except TimeoutError:
            raise BrowserLoginFailed(
                f"no redirect to {redirect_uri} within {self.timeout:g} s; pages answered: {self.pages}, now at {self.page.url}"
            ) from None
        finally:
            self.page.remove_listener("request", on_request)

    async def _next_page(self, arrived: asyncio.Future[str]) -> str | None:
        """The page object selector now showing, or None once the browser is back at the client."""
        shown = asyncio.ensure_future(
            self.page.locator(f"{CONSENT}, {LOGIN}, {IDP_CONSENT}, {PROXY_ERROR}").first.wait_for(timeout=0)
        )
        try:
            racing: list[asyncio.Future[None] | asyncio.Future[str]] = [shown, arrived]
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
        finally:
            shown.cancel()
        if arrived.done():
            return None
        if await self.page.locator(PROXY_ERROR).count():
            await self.trail.record(self.page, "error")
            message = " ".join((await self.page.locator(PROXY_ERROR).inner_text()).split())
            raise BrowserLoginFailed(f"the proxy showed an error page at {self.page.url.split('?')[0]}: {message}")
        for selector in (CONSENT, LOGIN, IDP_CONSENT):
            if await self.page.locator(selector).count():
                return selector
        return None

    async def _answer(self, selector: str, user: str, password: str, consent: str) -> None:
        if selector == CONSENT:
            self.pages.append("consent")
            page = await self.consent.wait()
            await (page.approve() if consent == "approve" else page.deny())
        elif selector == LOGIN:
            if "login" in self.pages:
                error = await self.page.locator("#input-error-username").all_inner_texts()
                raise BrowserLoginFailed(
                    f"login as {user!r} was refused: {' '.join(error).strip() or 'the login form came back'}"
                )
            self.pages.append("login")
            await (await self.login_page.wait()).login(user, password)
        else:
            self.pages.append("idp-consent")
            await (await self.idp_consent.wait()).accept()

    def _is_main_frame(self, frame: Frame) -> bool:
        return frame == self.page.main_frame

    def client(
        self, user: str = "alice", password: str | None = None, **client_kwargs: Any
    ) -> Client[StreamableHttpTransport]:
        """A FastMCP client whose sign-in happens in this browser (FastMCP's own loopback callback server)."""
        auth = _BrowserOAuth(self, user, password if password is not None else self.password_of(user))
        return Client(StreamableHttpTransport(self.mcp_url), auth=auth, **client_kwargs)


class _BrowserOAuth(TokenInHandOAuth):
    def __init__(self, browser: BrowserLogin, user: str, password: str) -> None:
        super().__init__(token_storage=MemoryStore(), callback_timeout=browser.timeout)
        self.browser = browser
        self.user = user
        self.password = password
        self._authorization_url: str | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self._authorization_url = authorization_url

    async def callback_handler(self) -> AuthorizationCodeResult:
        url, self._authorization_url = self._authorization_url, None
        if url is None:
            raise BrowserLoginFailed("callback requested before any authorization")

        async def drive() -> None:
            await _until_listening(self.redirect_port)
            await self.browser.login(url, self.user, self.password)

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(drive)
                result = await super().callback_handler()
            return result
        except BaseExceptionGroup as failures:
            # The browser's reason beats the callback server's cancellation.
            reasons = [error for error in failures.exceptions if isinstance(error, BrowserLoginFailed)]
            if reasons:
                raise reasons[0] from None
            raise


async def _until_listening(port: int) -> None:
    with anyio.move_on_after(CALLBACK_LISTEN_SECONDS):
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                await anyio.sleep(0.02)
    raise BrowserLoginFailed(f"FastMCP's callback server did not listen on port {port}")
