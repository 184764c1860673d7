"""The identity provider's browser session: the SSO cookie and the login form's own cookies.

A signed-in browser skips the login form, so whatever proves "this browser logged in" is a
credential. Keycloak 26.7 makes it an HS512-signed, HttpOnly JWT (``KEYCLOAK_IDENTITY``, typ
``Serialized-ID``) and ties each login form to the browser that opened it (``AUTH_SESSION_ID``,
``KC_RESTART``). The session id itself is public: ``session_state`` in every callback URL,
``sid`` in every token. The mock does the same (``mock_idp/cookies.py``); the tests that need
no mock internals run on both backends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
from pathlib import Path

import httpx
import pytest
from idp_attacks import (
    CALLBACK,
    auth_url,
    b64url_json,
    browser,
    cookie,
    error_message,
    jwt_parts,
    login_form,
    redirect_query,
    set_cookies,
)

from mock_idp import create_app
from sandbox.settings import DEFAULT_REALM_FILE
from sandbox.testing.forms import parse_page
from sandbox.testing.headless import BrowserCookieJar

COOKIE_NOT_FOUND = (
    "Restart login cookie not found. It may have expired; it may have been deleted or cookies are disabled in your browser. "
    "If cookies are disabled then enable them. Click Back to Application to login again."
)
TIMED_OUT = "Your login attempt timed out. Login will start from the beginning."
MOCK_REALM = "http://localhost:8080/realms/sandbox"


async def log_in(http: httpx.AsyncClient, realm_url: str, user: str = "alice") -> httpx.Response:
    """The whole login in ``http``: /auth, then the form; returns the redirect to the client."""
    action = await login_form(http, realm_url)
    response = await http.post(action, data={"username": user, "password": user})
    assert response.status_code == 302 and response.headers["location"].startswith(CALLBACK), response.text[:300]
    return response


async def with_identity(url: str, identity: str) -> httpx.Response:
    """``url`` opened by an attacker's browser holding nothing but ``identity`` as its SSO cookie."""
    async with browser() as attacker:
        return await attacker.get(url, headers={"Cookie": f"KEYCLOAK_IDENTITY={identity}"})


async def prompt_none(realm_url: str, identity: str) -> dict[str, str]:
    return redirect_query(await with_identity(auth_url(realm_url, prompt="none"), identity))


@pytest.fixture
async def victim(sandbox):
    """A browser where alice has just logged in, and the callback that login produced."""
    async with browser() as http:
        yield http, await log_in(http, sandbox.realm_url)


async def test_the_sso_cookie_is_a_signed_httponly_jwt(sandbox, victim):
    """RFC 6749 §10.10 / OIDC Core §3.1.2.3: what skips authentication must not be derivable
    from public values; HttpOnly keeps scripts from reading it. Keycloak's shape: HS512,
    typ ``Serialized-ID``, with ``sid``, ``sub`` and ``state_checker``."""
    _, callback = victim
    line = set_cookies(callback)["KEYCLOAK_IDENTITY"]
    assert "httponly" in line.lower() and "secure" in line.lower()
    header, claims = jwt_parts(line.split("=", 1)[1].split(";", 1)[0])
    assert header["alg"] == "HS512" and claims["typ"] == "Serialized-ID"
    assert claims["sid"] == redirect_query(callback)["session_state"] and claims["sub"] and claims["state_checker"]
    assert "KEYCLOAK_SESSION" in set_cookies(callback)


async def test_the_control_the_genuine_cookie_skips_the_login(sandbox, victim):
    """The control for the replays below: the victim's own cookie, replayed, does sign in."""
    http, _ = victim
    assert "code" in await prompt_none(sandbox.realm_url, cookie(http, "KEYCLOAK_IDENTITY"))


async def test_session_state_replayed_as_the_sso_cookie_gives_login_required(sandbox, victim):
    """Session-id replay (RFC 6749 §10.10, RFC 9700 §4.14): ``session_state`` from a callback
    URL (also the tokens' ``sid``, and in the trace) used as KEYCLOAK_IDENTITY signs nobody in:
    prompt=none answers ``login_required``, and without it the login page is shown."""
    _, callback = victim
    session_state = redirect_query(callback)["session_state"]
    assert redirect_query_error(await prompt_none(sandbox.realm_url, session_state)) == "login_required"
    page = await with_identity(auth_url(sandbox.realm_url), session_state)
    assert page.status_code == 200 and parse_page(page.text).form("kc-form-login") is not None


def redirect_query_error(query: dict[str, str]) -> str | None:
    assert "code" not in query, "the attacker got a code"
    return query.get("error")


def _tampered(token: str, how: str, session_state: str) -> str:
    header, claims = jwt_parts(token)
    head, body, signature = token.split(".")
    if how == "signature":
        return f"{head}.{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    if how == "claims":  # a longer life under the genuine signature
        return f"{head}.{b64url_json({**claims, 'exp': int(claims['exp']) + 86400})}.{signature}"
    if how == "alg-none":
        return f"{b64url_json({**header, 'alg': 'none'})}.{body}."
    # Signed with the one public value an attacker has: the session id.
    signing_input = f"{head}.{body}".encode()
    mac = hmac.new(session_state.encode(), signing_input, hashlib.sha512).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@pytest.mark.parametrize("how", ["signature", "claims", "alg-none", "session-id-as-key"])
async def test_a_forged_or_tampered_sso_cookie_gives_login_required(sandbox, victim, how):
    """RFC 6749 §10.10, RFC 8725 §3.1-3.2: the SSO cookie's HS512 signature is checked with a
    secret key, so a changed signature or claim, ``alg: none``, or a key guessed from the
    public session id all fail (prompt=none: ``login_required``)."""
    http, callback = victim
    forged = _tampered(cookie(http, "KEYCLOAK_IDENTITY"), how, redirect_query(callback)["session_state"])
    assert redirect_query_error(await prompt_none(sandbox.realm_url, forged)) == "login_required"


async def test_login_csrf_a_login_post_without_the_login_cookies_fails(sandbox):
    """Login CSRF (RFC 6749 §10.12, RFC 9700 §4.7): the attacker opens a login form and makes
    the victim's browser POST it with the attacker's credentials. Without the form's own
    AUTH_SESSION_ID / KC_RESTART cookies Keycloak answers its 400 "Restart login cookie not
    found" page, and no one is logged in."""
    async with browser() as attacker:
        action = await login_form(attacker, sandbox.realm_url)
    async with browser() as victim:
        response = await victim.post(action, data={"username": "bob", "password": "bob"})
        assert response.status_code == 400 and error_message(response) == COOKIE_NOT_FOUND
        assert "KEYCLOAK_IDENTITY" not in {c.name for c in victim.cookies.jar if c.value}


async def test_login_csrf_a_login_form_from_another_browser_restarts_the_login(sandbox):
    """Login CSRF where the victim's browser has a login of its own under way: the attacker's
    form does not count there; Keycloak restarts the victim's own login (the "timed out"
    message over a fresh form) and issues no code."""
    async with browser() as attacker:
        action = await login_form(attacker, sandbox.realm_url)
    async with browser() as victim:
        await login_form(victim, sandbox.realm_url)
        response = await victim.post(action, data={"username": "bob", "password": "bob"}, follow_redirects=True)
        assert response.status_code == 200 and TIMED_OUT in response.text
        assert parse_page(response.text).form("kc-form-login") is not None
        assert not str(response.url).startswith(CALLBACK)


@pytest.mark.mock_only
async def test_the_cookie_key_is_the_state_dirs_own_and_survives_a_restart(tmp_path):
    """The signing key is random per state directory and kept there: a signed-in browser stays
    signed in across a restart, and an IdP with the same sessions but another key refuses it."""
    realm = json.loads(DEFAULT_REALM_FILE.read_text())
    state, other = tmp_path / "state", tmp_path / "other"

    def idp_app(directory: Path):
        return create_app(realm, issuer_base="http://localhost:8080", state_dir=directory)

    first = idp_app(state)
    async with mock_browser(first) as http:
        await log_in(http, MOCK_REALM)
        token = cookie(http, "KEYCLOAK_IDENTITY")
    assert first.state.idp.keys.kid  # the signing key, generated in the background, is on disk once used
    other.mkdir()
    for name in ("state.json", "rs256-private-key.pem"):  # the same sessions; only the cookie key differs
        shutil.copy(state / name, other / name)
    for directory, answer in ((state, "code"), (other, "error")):
        async with mock_browser(idp_app(directory)) as http:
            query = redirect_query(
                await http.get(auth_url(MOCK_REALM, prompt="none"), headers={"Cookie": f"KEYCLOAK_IDENTITY={token}"})
            )
        assert answer in query, (directory.name, query)
    assert query["error"] == "login_required"


def mock_browser(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://localhost:8080",
        cookies=BrowserCookieJar(),
        follow_redirects=False,
    )


@pytest.mark.mock_only  # the trace records the embedded IdP's own side only
async def test_the_trace_never_shows_a_cookie_that_signs_in(sandbox, victim):
    """RFC 9700 §4.14, RFC 6749 §10.3: the trace needs no credentials, so the SSO and
    login-session cookies the IdP set during the victim's login must not appear in it."""
    http, _ = victim
    values = [cookie(http, name) for name in ("KEYCLOAK_IDENTITY", "AUTH_SESSION_ID")]
    async with httpx.AsyncClient() as reader:
        trace = (await reader.get(f"{sandbox.base_url}/sandbox/trace.json")).text
    assert "login-actions/authenticate" in trace, "the victim's login should be in the trace"
    assert [value for value in values if value in trace or value[:40] in trace] == []
