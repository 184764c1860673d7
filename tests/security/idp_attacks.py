"""The attacker's tools against the identity provider: its /auth and logout URLs, a signed-in
victim's browser, and what a refusal page says.

They speak only the IdP's public HTTP surface (Keycloak's URL layout), so the tests that use
them run on the mock and, with ``--sandbox-backend keycloak``, on a real Keycloak.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from sandbox.testing.forms import parse_page
from sandbox.testing.headless import BrowserCookieJar, HeadlessBrowser

# The realm's public client: redirect URIs http://localhost:* and http://127.0.0.1:*.
PUBLIC_CLIENT = "sandbox-cli"
CALLBACK = "http://localhost:53211/callback"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B
_ERROR_MESSAGE = re.compile(r'id="kc-error-message">\s*<p class="instruction">(.*?)</p>', re.DOTALL)


def auth_url(realm_url: str, **overrides: str) -> str:
    params = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "state": "attack-state",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    } | overrides
    return f"{realm_url}/protocol/openid-connect/auth?{urlencode(params)}"


def logout_url(realm_url: str, **params: str) -> str:
    return f"{realm_url}/protocol/openid-connect/logout?{urlencode(params)}"


def error_message(response: httpx.Response) -> str | None:
    """The message of Keycloak's (and the mock's) "We are sorry..." page, if it is one."""
    found = _ERROR_MESSAGE.search(response.text)
    return " ".join(unescape(found.group(1)).split()) if found else None


def redirect_query(response: httpx.Response) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(response.headers["location"]).query).items()}


@asynccontextmanager
async def signed_in(
    realm_url: str, user: str = "alice", password: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A victim's browser: it has logged in once, so the IdP's SSO cookie is in its jar and
    the next /auth answers at once, without a form, to whatever redirect URI is accepted."""
    browser = HeadlessBrowser(user, password or user)
    await browser.authorize(auth_url(realm_url))
    async with httpx.AsyncClient(cookies=browser.cookies, follow_redirects=False) as http:
        yield http


def browser() -> httpx.AsyncClient:
    """An empty browser: a cookie jar that keeps Keycloak's Secure cookies on loopback, as browsers do."""
    return httpx.AsyncClient(cookies=BrowserCookieJar(), follow_redirects=False)


async def login_form(http: httpx.AsyncClient, realm_url: str, **params: str) -> str:
    """Open /auth in ``http`` and return the login form's action URL."""
    page = await http.get(auth_url(realm_url, **params))
    form = parse_page(page.text).form("kc-form-login")
    assert page.status_code == 200 and form is not None, f"no login form at /auth: HTTP {page.status_code}"
    return form.action


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each cookie the response sets, name -> its whole Set-Cookie line."""
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("set-cookie")}


def cookie(http: httpx.AsyncClient, name: str) -> str:
    return next(c.value for c in http.cookies.jar if c.name == name and c.value)


def jwt_parts(token: str) -> tuple[dict[str, object], dict[str, object]]:
    """A JWT's header and claims, unverified."""
    header, claims = (
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in token.split(".")[:2]
    )
    return header, claims


def b64url_json(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
