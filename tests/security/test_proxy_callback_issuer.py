"""RFC 9207 at the proxy's callback: an authorization response naming another issuer, two, or
none is refused (sandbox/callback_issuer.py); FastMCP 4.2.3 sent the client a code for each."""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
from fastmcp.server.auth.oauth_proxy import OAuthProxy
from test_proxy_consent import upstream_login_url

from sandbox.testing.headless import HeadlessBrowser


def with_iss(*values: str) -> Callable[[str], str]:
    """A rewrite of the callback URL: its ``iss`` values replaced by ``values``."""

    def rewrite(url: str) -> str:
        parts = urlsplit(url)
        kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
        return urlunsplit(parts._replace(query=urlencode(kept + [("iss", v) for v in values])))

    return rewrite


async def callback_rewritten(sandbox, rewrite: Callable[[str], str]) -> tuple[httpx.Response, str]:
    """The approving browser logs in at the IdP and loads the proxy's /auth/callback, its URL
    rewritten: the answer and the URL the IdP gave."""
    url, approver = await upstream_login_url(sandbox)
    browser, base_url = HeadlessBrowser("alice", "alice"), sandbox.base_url
    for cookie in approver.cookies:
        browser.cookies.set_cookie(cookie)
    async with httpx.AsyncClient(cookies=browser.cookies, follow_redirects=False, timeout=30) as http:
        response = await http.get(url)
        for _ in range(10):
            location = response.headers.get("location", "") if response.is_redirect else ""
            if location.startswith(f"{base_url}/auth/callback"):
                return await http.get(rewrite(location)), location
            if location:
                response = await http.get(urljoin(str(response.url), location))
                continue
            response = await browser.answer_page(http, response)
    raise AssertionError("never redirected to /auth/callback")


async def test_the_idps_own_iss_is_sent_and_accepted(sandbox):
    response, location = await callback_rewritten(sandbox, lambda url: url)
    assert "iss" in dict(parse_qsl(urlsplit(location).query))  # Keycloak's default, and the mock's
    assert response.status_code == 302 and "code=" in response.headers["location"], response.text[:300]


@pytest.mark.parametrize(
    ("rewrite", "said"),
    [
        (with_iss("https://evil.example/realms/sandbox"), "names the issuer 'https://evil.example/realms/sandbox'"),
        (with_iss(), "names no issuer"),
        (with_iss("https://evil.example/realms/sandbox", "https://evil.example/realms/sandbox"), "names 2 issuers"),
    ],
    ids=["another", "none", "two"],
)
async def test_a_callback_not_naming_the_idp_is_refused(sandbox, rewrite, said):
    response, _ = await callback_rewritten(sandbox, rewrite)
    assert response.status_code == 400 and not response.is_redirect
    assert said in html.unescape(response.text) and "RFC 9207" in response.text  # escaped: it is the attacker's text


def test_upstream_fastmcp_still_ignores_the_callbacks_iss():
    """When this fails, FastMCP reads iss at its callback: check it does so, then delete sandbox/callback_issuer.py."""
    source = inspect.getsource(OAuthProxy._handle_idp_callback)
    assert '"iss"' not in source and "'iss'" not in source
