"""The proxy's consent screen and its browser binding (the confused-deputy defence).

RFC 9700 §4.4.1.4 and §4.7 (CSRF: the callback and the consent decision must be bound to
the browser that started the flow), RFC 6749 §10.12 (CSRF), and the MCP authorization
spec's rule that a proxy with a static upstream client MUST get the user's consent per
client. A code the victim's login produced must never reach the attacker's client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urljoin

import httpx
from proxy_attacks import pkce_pair, register

from sandbox.testing.forms import parse_page
from sandbox.testing.headless import BrowserCookieJar, HeadlessBrowser


class Browser:
    """One browser profile: its own cookie jar, following nothing by itself."""

    def __init__(self) -> None:
        self.cookies = BrowserCookieJar()

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(cookies=self.cookies, follow_redirects=False, timeout=30)


async def consent_page(browser: Browser, authorize_url: str) -> tuple[str, dict[str, str]]:
    """Open /authorize until the proxy's consent form: its URL and its hidden fields."""
    async with browser.http() as http:
        response = await http.get(authorize_url)
        while response.is_redirect:
            response = await http.get(urljoin(str(response.url), response.headers["location"]))
    form = parse_page(response.text).form("consentForm")
    assert form is not None, response.text[:300]
    return urljoin(str(response.url), form.action or str(response.url)), form.fields


async def approve(browser: Browser, consent_url: str, fields: dict[str, str]) -> httpx.Response:
    async with browser.http() as http:
        return await http.post(consent_url, data=fields | {"action": "approve"})


async def attackers_consent(sandbox) -> tuple[Browser, str, dict[str, str]]:
    client = await register(sandbox)
    _, challenge = pkce_pair()
    attacker = Browser()
    url, fields = await consent_page(attacker, client.authorize_url(challenge))
    return attacker, url, fields


async def test_consent_posted_from_another_browser_is_refused(sandbox):
    """RFC 9700 §4.7 / RFC 6749 §10.12: the attacker's txn_id and CSRF token, submitted by the
    victim's browser (a cross-site form post), fail the double-submit cookie check."""
    _, url, fields = await attackers_consent(sandbox)
    response = await approve(Browser(), url, fields)
    assert response.status_code == 403 and not response.is_redirect


async def test_consent_with_a_forged_csrf_token_is_refused(sandbox):
    """RFC 6749 §10.12: the CSRF token must be the one this consent page was rendered with."""
    attacker, url, fields = await attackers_consent(sandbox)
    response = await approve(attacker, url, fields | {"csrf_token": "forged"})
    assert response.status_code == 400 and not response.is_redirect


def forged_state_cookie(secret: str, csrf_token: str, txn_id: str) -> tuple[str, str]:
    """A consent-state cookie as FastMCP signs it (oauth_proxy/consent.py), with ``secret``."""
    payload = base64.b64encode(json.dumps({"txn": txn_id, "iat": time.time()}, separators=(",", ":")).encode()).decode()
    signature = base64.b64encode(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()).decode()
    name = "__MCP_CONSENT_STATE_" + hashlib.sha256(csrf_token.encode()).hexdigest()[:32]
    return name, f"{payload}.{signature}"


async def test_consent_cookie_forged_with_the_published_client_secret_is_refused(sandbox):
    """RFC 9700 §4.7: the consent binding must not be forgeable. FastMCP 4.2.3 signs it with
    the upstream client secret, which realms/sandbox.json publishes; a cookie planted in the
    victim's browser (any localhost port may set localhost cookies) then passes the check."""
    _, url, fields = await attackers_consent(sandbox)
    _, published_secret = sandbox.running.sandbox.realm.upstream_client(sandbox.running.settings.upstream_client_id)
    name, value = forged_state_cookie(published_secret, fields["csrf_token"], fields["txn_id"])
    async with httpx.AsyncClient(cookies={name: value}) as victim:
        response = await victim.post(url, data=fields | {"action": "approve"})
    assert response.status_code == 403 and not response.is_redirect


async def upstream_login_url(sandbox) -> tuple[str, str]:
    """The attacker approves their own flow and stops at the IdP's login URL."""
    attacker, url, fields = await attackers_consent(sandbox)
    response = await approve(attacker, url, fields)
    assert response.is_redirect, response.text[:300]
    return response.headers["location"], attacker


async def walk_to_callback(browser: HeadlessBrowser, url: str, base_url: str) -> httpx.Response:
    """Log in at the IdP and follow redirects until the proxy's /auth/callback answers."""
    async with httpx.AsyncClient(cookies=browser.cookies, follow_redirects=False, timeout=30) as http:
        response = await http.get(url)
        for _ in range(10):
            if response.is_redirect:
                response = await http.get(urljoin(str(response.url), response.headers["location"]))
                continue
            if str(response.url).startswith(f"{base_url}/auth/callback"):
                return response
            response = await browser.answer_page(http, response)
            if response.is_redirect and response.headers["location"].startswith(f"{base_url}/auth/callback"):
                return await http.get(response.headers["location"])
    raise AssertionError("never reached /auth/callback")


async def test_cross_browser_callback_is_refused(sandbox):
    """RFC 9700 §4.4.1.4 (confused deputy): the victim logs in at the IdP URL of the attacker's
    flow; their callback lacks the consent binding cookie, so no code goes to the attacker."""
    login_url, _ = await upstream_login_url(sandbox)
    response = await walk_to_callback(HeadlessBrowser("bob", "bob"), login_url, sandbox.base_url)
    assert response.status_code == 403 and not response.is_redirect


async def test_callback_without_the_consent_cookie_is_refused(sandbox):
    """RFC 9700 §4.7: the browser that approved, its consent binding cookie gone, gets 403 at the callback."""
    login_url, approver = await upstream_login_url(sandbox)
    browser = HeadlessBrowser("alice", "alice")
    binding = [cookie for cookie in approver.cookies if cookie.name.startswith("__MCP_CONSENT_BINDING")]
    assert binding, "approving sets the binding cookie"
    for cookie in approver.cookies:
        if cookie not in binding:
            browser.cookies.set_cookie(cookie)
    response = await walk_to_callback(browser, login_url, sandbox.base_url)
    assert response.status_code == 403 and not response.is_redirect
