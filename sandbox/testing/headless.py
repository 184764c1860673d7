"""A headless stand-in for the person at the browser during an MCP client's OAuth redirect.

It follows redirects with a cookie jar, answers the proxy's consent form, submits the
IdP's login form (Keycloak's element ids, so it drives both backends), and returns what
arrives at the client's loopback redirect URI, without a listening callback server.
"""

from __future__ import annotations

import html
import re
import urllib.request
from collections.abc import Sequence
from http.client import HTTPResponse
from http.cookiejar import Cookie, CookieJar
from typing import Any, Literal
from urllib.parse import parse_qs, parse_qsl, urlencode, urljoin, urlparse, urlunparse

# The MCP SDK's own HTTP client, loaded with it: httpx would be a second HTTP stack to import
# (~25 ms of a plugin's first sign-in, issue 17).
import httpx2
from mcp.shared.auth import AuthorizationCodeResult

from sandbox.testing.forms import Form, parse_page
from sandbox.testing.token_in_hand import TokenInHandOAuth
from sandbox.trust_store import default_trust_store

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class AuthorizationFailed(Exception):
    """The walk could not reach the client's redirect URI; the message says where it stopped."""


class LoginFailed(AuthorizationFailed):
    """The IdP showed its login form again after the credentials were submitted."""


class ErrorPage(AuthorizationFailed):
    """A page answered with an HTTP error, e.g. FastMCP's "OAuth Error" page at the proxy's callback."""

    def __init__(self, status: int, url: str, message: str) -> None:
        super().__init__(f"HTTP {status} at {url.split('?')[0]}: {message}")
        self.status = status
        self.url = url
        self.message = message


class AuthorizationDenied(AuthorizationFailed):
    """The authorization server redirected back with an OAuth error (e.g. ``access_denied``)."""

    def __init__(self, error: str, description: str | None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class BrowserCookieJar(CookieJar):
    """Cookies kept the way a browser keeps them on loopback.

    Keycloak sends its login-session cookies with ``Secure`` and ``Version=1`` even over
    plain http. Browsers ignore the version and treat localhost as a secure context, so
    they send them back; the stdlib jar would withhold both. Store them as plain cookies.
    """

    def make_cookies(self, response: HTTPResponse, request: urllib.request.Request) -> Sequence[Cookie]:
        cookies = super().make_cookies(response, request)
        loopback = urlparse(request.get_full_url()).hostname in LOOPBACK_HOSTS
        for cookie in cookies:
            cookie.version = 0
            cookie.secure = cookie.secure and not loopback
        return cookies


class HeadlessBrowser:
    def __init__(
        self,
        username: str,
        password: str,
        *,
        consent: Literal["approve", "deny"] = "approve",
        max_steps: int = 20,
        scopes: list[str] | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.consent = consent
        self.max_steps = max_steps
        # Added to every authorization request's scope: MCP clients ask for what the 401
        # challenge names, whatever they were configured with, so this is where a test
        # says "this client asks for mcp:admin up front".
        self.scopes = list(scopes or [])
        # Kept across walks, like a browser profile: the IdP's SSO cookie lives here.
        # (httpx2 uses a CookieJar passed in as it is; a Cookies object would be copied.)
        self.cookies = BrowserCookieJar()
        # The pages answered on the last walk, in order: "consent", "login", "idp-consent".
        self.pages: list[str] = []

    async def authorize(self, authorization_url: str) -> AuthorizationCodeResult:
        redirect_uri = _query(authorization_url).get("redirect_uri")
        if not redirect_uri:
            raise AuthorizationFailed(f"authorization URL has no redirect_uri: {authorization_url}")
        self.pages = []
        if self.scopes:
            authorization_url = _with_scopes(authorization_url, self.scopes)
        async with httpx2.AsyncClient(
            cookies=self.cookies, follow_redirects=False, timeout=30.0, verify=default_trust_store()
        ) as http:
            response = await http.get(authorization_url)
            for _ in range(self.max_steps):
                if response.is_redirect:
                    location = urljoin(str(response.url), response.headers["location"])
                    if location.startswith(redirect_uri):
                        return _callback_result(location)
                    response = await http.get(location)
                    continue
                response = await self.answer_page(http, response)
        raise AuthorizationFailed(f"no redirect to {redirect_uri} after {self.max_steps} steps")

    async def answer_page(self, http: httpx2.AsyncClient, response: httpx2.Response) -> httpx2.Response:
        """Answer one page of the flow (consent, login, IdP consent) as a person would; the next response."""
        if response.status_code != 200:
            raise ErrorPage(response.status_code, str(response.url), _error_message(response.text))
        page = parse_page(response.text)
        if form := page.form("kc-form-login"):
            if "login" in self.pages:
                shown = _LOGIN_ERROR.search(response.text)
                reason = f": {html.unescape(shown.group(1)).strip()}" if shown else ""
                raise LoginFailed(f"login as {self.username!r} was refused at {response.url}{reason}")
            self.pages.append("login")
            return await _submit(http, response, form, {"username": self.username, "password": self.password})
        if form := page.form("consentForm"):
            self.pages.append("consent")
            return await _submit(http, response, form, {"action": self.consent})
        if "kc-oauth" in page.ids and (form := _form_with_button(page.forms, "accept")):
            self.pages.append("idp-consent")
            button = "accept" if self.consent == "approve" else "cancel"
            return await _submit(http, response, form, {button: (form.buttons.get(button) or ["yes"])[0]})
        raise AuthorizationFailed(f"unexpected page at {response.url}: {response.text[:300]}")


class HeadlessOAuth(TokenInHandOAuth):
    """FastMCP's client-side OAuth with the browser step answered by a :class:`HeadlessBrowser`."""

    def __init__(self, browser: HeadlessBrowser, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.browser = browser
        self._result: AuthorizationCodeResult | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self._result = await self.browser.authorize(authorization_url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self._result is None:
            raise AuthorizationFailed("callback requested before any authorization")
        result, self._result = self._result, None
        return result


# FastMCP's error page (oauth_proxy/ui.py) and Keycloak's (and the mock's) login error.
_PROXY_ERROR = re.compile(r'<div class="info-box error">\s*<p>(.*?)</p>', re.DOTALL)
_LOGIN_ERROR = re.compile(r'id="input-error-username"[^>]*>(?:\s|<[^>]+>)*([^<]+)')


def _error_message(text: str) -> str:
    """The message of an error page: FastMCP's own, else the start of the body."""
    found = _PROXY_ERROR.search(text)
    return " ".join((html.unescape(found.group(1)) if found else text[:300]).split())


def _with_scopes(url: str, scopes: list[str]) -> str:
    parts = urlparse(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    asked = next((value.split() for key, value in query if key == "scope"), [])
    query = [(key, value) for key, value in query if key != "scope"]
    query.append(("scope", " ".join(dict.fromkeys([*asked, *scopes]))))
    return urlunparse(parts._replace(query=urlencode(query)))


def _query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlparse(url).query).items()}


def _callback_result(location: str) -> AuthorizationCodeResult:
    params = _query(location)
    if "error" in params:
        raise AuthorizationDenied(params["error"], params.get("error_description"))
    if "code" not in params:
        raise AuthorizationFailed(f"redirect carries neither code nor error: {location}")
    return AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))


def _form_with_button(forms: list[Form], name: str) -> Form | None:
    return next((form for form in forms if name in form.buttons), None)


async def _submit(
    http: httpx2.AsyncClient, response: httpx2.Response, form: Form, values: dict[str, str]
) -> httpx2.Response:
    target = urljoin(str(response.url), form.action) if form.action else str(response.url)
    data = {**form.fields, **values}
    if form.method == "post":
        return await http.post(target, data=data)
    return await http.get(target, params=data)
