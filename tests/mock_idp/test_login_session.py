"""Keycloak 26.7's login-session behaviour: re-authentication (prompt=login, max_age), the
required-action redirect, the cookies set on every pass through /auth, and the logout confirmation."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mockidp_support import ISSUER, OIDC, PROXY_REDIRECT, auth_params, browser, form_action, login, redeem

REAUTHENTICATE = "Please re-authenticate to continue"


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def _id_token(http, code: str) -> dict[str, Any]:
    response = await redeem(http, code)
    assert response.status_code == 200, response.text
    return _claims(response.json()["id_token"])


def _set_cookies(response) -> dict[str, str]:
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("set-cookie")}


async def test_max_age_that_passed_asks_for_the_password_again_and_renews_auth_time(client, idp):
    first = await _id_token(client, (await login(client))["code"])
    idp.clock.advance(120)
    recent = await client.get(f"{OIDC}/auth", params=auth_params(max_age="3600"))
    assert recent.status_code == 302 and "code=" in recent.headers["location"]
    page = await client.get(f"{OIDC}/auth", params=auth_params(max_age="60"))
    assert page.status_code == 200 and REAUTHENTICATE in page.text
    assert 'name="password"' in page.text and 'name="username"' not in page.text
    # The form asks only for the password: the user is the session's, whatever else is posted.
    done = await client.post(form_action(page.text), data={"username": "bob", "password": "alice"})
    again = await _id_token(client, parse_qs(urlsplit(done.headers["location"]).query)["code"][0])
    assert again["preferred_username"] == "alice" and again["sid"] == first["sid"]
    assert again["auth_time"] >= first["auth_time"] + 120


async def test_reauthentication_with_a_wrong_password_is_refused(client, idp):
    await login(client)
    codes = set(idp.store.codes)
    page = await client.get(f"{OIDC}/auth", params=auth_params(prompt="login"))
    assert REAUTHENTICATE in page.text
    wrong = await client.post(form_action(page.text), data={"password": "not-alice"})
    assert (
        wrong.status_code == 200
        and 'id="input-error-password"' in wrong.text
        and "Invalid username or password." in wrong.text
        and REAUTHENTICATE not in wrong.text
        and set(idp.store.codes) == codes
    )


async def test_every_pass_through_auth_sets_the_session_cookies_again(client):
    await login(client)
    sso = await client.get(f"{OIDC}/auth", params=auth_params())
    assert sso.status_code == 302
    assert {"AUTH_SESSION_ID", "KC_RESTART", "KEYCLOAK_IDENTITY", "KEYCLOAK_SESSION"} <= set(_set_cookies(sso))
    silent = _set_cookies(await client.get(f"{OIDC}/auth", params=auth_params(prompt="none")))
    assert "KEYCLOAK_IDENTITY" in silent and silent["KC_RESTART"].startswith("KC_RESTART=;")


async def test_cookies_are_expired_with_a_bare_header_as_keycloak_does(client):
    page = await client.get(f"{OIDC}/auth", params=auth_params())
    done = await client.post(form_action(page.text), data={"username": "alice", "password": "alice"})
    expired = _set_cookies(done)["KC_RESTART"]
    assert "Max-Age=0" in expired and "1970" in expired
    assert not any(flag in expired.lower() for flag in ("httponly", "secure", "samesite"))
    assert "KC_RESTART" not in {cookie.name for cookie in client.cookies.jar}


async def test_login_form_carries_keycloaks_execution_and_client_data(client):
    page = await client.get(f"{OIDC}/auth", params=auth_params(response_mode="fragment"))
    query = parse_qs(urlsplit(form_action(page.text)).query)
    assert {"session_code", "execution", "client_id", "tab_id", "client_data"} <= set(query)
    data = query["client_data"][0]
    decoded = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    assert decoded == {"ru": PROXY_REDIRECT, "rt": "code", "rm": "fragment", "st": "st-1"}


async def test_required_action_is_shown_only_to_the_browser_it_was_redirected(client, app, idp):
    idp.directory.reset_password(idp.find_user("bob"), {"value": "temp-pw", "temporary": True})
    page = await client.get(f"{OIDC}/auth", params=auth_params())
    redirect = await client.post(form_action(page.text), data={"username": "bob", "password": "temp-pw"})
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(f"{ISSUER}/login-actions/required-action?") and "session_code" not in location
    async with browser(app) as other:
        foreign = await other.get(location)
    assert foreign.status_code == 400 and "kc-passwd-update-form" not in foreign.text
    form = await client.get(location)
    assert form.status_code == 200 and 'id="kc-passwd-update-form"' in form.text


async def test_logout_confirmation_counts_only_from_the_browser_it_was_shown_in(client, app, idp):
    await login(client)
    page = await client.get(f"{OIDC}/logout")
    action = form_action(page.text)
    assert action.startswith(f"{OIDC}/logout/logout-confirm?")
    session_code = re.search(r'name="session_code" value="([^"]+)"', page.text).group(1)
    confirmed = {"session_code": session_code, "confirmLogout": "doLogout"}
    async with browser(app) as attacker:
        forged = await attacker.post(action, data=confirmed)
    assert forged.status_code == 400 and "Logout failed" in forged.text and idp.store.sessions
    guessed = await client.post(action, data={"confirmLogout": "doLogout"})  # without the page's session_code
    assert guessed.status_code == 400 and "Logout failed" in guessed.text and idp.store.sessions
    # A confirmLogout posted straight to the logout endpoint only asks again.
    asked = await client.post(f"{OIDC}/logout", data={"confirmLogout": "doLogout"})
    assert asked.status_code == 200 and 'id="kc-logout"' in asked.text and idp.store.sessions
    done = await client.post(action, data=confirmed)
    assert done.status_code == 200 and "You are logged out" in done.text and not idp.store.sessions
