"""The authorization endpoint, the login form and the consent page."""

from __future__ import annotations

import re

import httpx
import pytest
from mockidp_support import ISSUER, OIDC, PROXY_REDIRECT, auth_params, browser, form_action, login, redirect_params


async def test_login_page_has_keycloak_element_ids(client):
    page = await client.get(f"{OIDC}/auth", params=auth_params())
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for marker in ('<form id="kc-form-login"', 'id="username"', 'id="password"', 'id="kc-login"', 'method="post"'):
        assert marker in page.text
    action = form_action(page.text)
    assert action.startswith(f"{ISSUER}/login-actions/authenticate?session_code=")


async def test_successful_login_redirects_with_code_state_and_iss(client, idp):
    params = await login(client)
    assert params["state"] == "st-1" and params["iss"] == ISSUER and params["code"] and params["session_state"]
    assert params["code"] in idp.store.codes


async def test_wrong_password_rerenders_with_error_and_issues_nothing(client, idp):
    page = await client.get(f"{OIDC}/auth", params=auth_params())
    action = form_action(page.text)
    wrong = await client.post(action, data={"username": "alice", "password": "bob"})
    assert wrong.status_code == 200
    assert re.search(
        r'id="input-error-username"[^>]*><span class="kc-feedback-text">Invalid username or password\.<', wrong.text
    )
    assert 'id="kc-form-login"' in wrong.text and 'value="alice"' in wrong.text
    assert not idp.store.codes and not idp.store.sessions and "set-cookie" not in wrong.headers
    unknown = await client.post(form_action(wrong.text), data={"username": "mallory", "password": "x"})
    assert "Invalid username or password." in unknown.text and not idp.store.codes
    # The same pending login still works with the right password.
    ok = await client.post(form_action(unknown.text), data={"username": "alice", "password": "alice"})
    assert redirect_params(ok)["code"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"client_id": "nobody"}, "Client not found."),
        ({"client_id": None}, "Client not found."),
        ({"redirect_uri": "http://evil.example/cb"}, "Invalid parameter: redirect_uri"),
        ({"redirect_uri": "http://localhost:8000/auth/callback/extra"}, "Invalid parameter: redirect_uri"),
        ({"redirect_uri": "not a uri"}, "Invalid parameter: redirect_uri"),
    ],
)
async def test_non_redirectable_errors_render_a_400_page(client, overrides, message):
    response = await client.get(f"{OIDC}/auth", params=auth_params(**overrides))
    assert response.status_code == 400
    assert message in response.text and "kc-error-message" in response.text
    assert "location" not in response.headers


async def test_response_types_keycloak_does_not_offer(client, idp):
    # An implicit type goes back in the fragment, as that flow would; an unknown one in the
    # query, without a description (Keycloak 26.7's answers, e2e/test_fidelity.py).
    implicit = await client.get(f"{OIDC}/auth", params=auth_params(response_type="token"))
    assert implicit.headers["location"].startswith(PROXY_REDIRECT + "#")
    fragment = dict(httpx.URL(implicit.headers["location"].replace("#", "?", 1)).params)
    assert fragment["error"] == "unauthorized_client" and "Implicit flow is disabled" in fragment["error_description"]
    unknown = redirect_params(await client.get(f"{OIDC}/auth", params=auth_params(response_type="magic")))
    assert unknown["error"] == "unsupported_response_type" and "error_description" not in unknown
    assert not idp.store.logins


@pytest.mark.parametrize(
    "overrides, error, description",
    [
        (
            {"code_challenge": None, "code_challenge_method": None},
            "invalid_request",
            "Missing parameter: code_challenge_method",
        ),
        ({"code_challenge_method": None}, "invalid_request", "Missing parameter: code_challenge_method"),
        (
            {"code_challenge_method": "plain"},
            "invalid_request",
            "Invalid parameter: code challenge method is not matching the configured one",
        ),
        ({"code_challenge": None}, "invalid_request", "Missing parameter: code_challenge"),
        ({"code_challenge": "short"}, "invalid_request", "Invalid parameter: code_challenge"),
        ({"response_type": None}, "invalid_request", "Missing parameter: response_type"),
        ({"scope": "openid admin:everything"}, "invalid_scope", "Invalid scopes"),
        ({"response_mode": "jwt"}, "invalid_request", "Invalid parameter: response_mode"),
    ],
)
async def test_redirectable_errors_go_back_to_the_client(client, idp, overrides, error, description):
    response = await client.get(f"{OIDC}/auth", params=auth_params(**overrides))
    params = redirect_params(response)
    assert response.headers["location"].startswith(PROXY_REDIRECT + "?")
    assert params["error"] == error and description in params["error_description"]
    assert params["state"] == "st-1" and params["iss"] == ISSUER
    assert "code" not in params and not idp.store.logins


async def test_public_cli_client_wildcard_redirects_match_any_loopback_port(client):
    for uri in ("http://localhost:53682/callback", "http://127.0.0.1:9/cb?x=1"):
        client.cookies.clear()
        params = await login(client, client_id="sandbox-cli", redirect_uri=uri)
        assert params["code"]
    response = await client.get(
        f"{OIDC}/auth", params=auth_params(client_id="sandbox-cli", redirect_uri="http://example.com:80/cb")
    )
    assert response.status_code == 400


async def test_sso_cookie_skips_the_form_unless_prompt_login(client):
    await login(client)
    again = await client.get(f"{OIDC}/auth", params=auth_params(state="st-2"))
    assert redirect_params(again)["state"] == "st-2" and redirect_params(again)["code"]
    forced = await client.get(f"{OIDC}/auth", params=auth_params(prompt="login"))
    assert forced.status_code == 200 and 'id="kc-form-login"' in forced.text


async def test_prompt_none_without_session_is_login_required(client):
    response = await client.get(f"{OIDC}/auth", params=auth_params(prompt="none"))
    assert redirect_params(response)["error"] == "login_required"


async def test_login_action_without_the_browser_cookies_is_keycloaks_cookie_page(client):
    response = await client.post(
        f"{ISSUER}/login-actions/authenticate?session_code=forged", data={"username": "alice", "password": "alice"}
    )
    assert response.status_code == 400 and "Restart login cookie not found." in response.text


async def test_stale_login_action_restarts_the_login_from_the_restart_cookie(client):
    await client.get(f"{OIDC}/auth", params=auth_params(state="restarted"))
    response = await client.post(
        f"{ISSUER}/login-actions/authenticate?session_code=forged", data={"username": "alice", "password": "alice"}
    )
    assert response.status_code == 200 and "timed out" in response.text and 'id="kc-form-login"' in response.text
    again = await client.post(form_action(response.text), data={"username": "alice", "password": "alice"})
    assert redirect_params(again)["state"] == "restarted"


async def test_fragment_and_form_post_response_modes(client):
    fragment = await client.get(f"{OIDC}/auth", params=auth_params(response_mode="fragment", prompt="none"))
    assert "#error=login_required" in fragment.headers["location"]
    page = await client.get(f"{OIDC}/auth", params=auth_params(response_mode="form_post"))
    posted = await client.post(form_action(page.text), data={"username": "bob", "password": "bob"})
    assert posted.status_code == 200 and f'action="{PROXY_REDIRECT}"' in posted.text and 'name="code"' in posted.text


async def test_consent_required_client_shows_keycloak_consent_page(realm_dict, tmp_path):

    from mock_idp import create_app

    realm_dict["clients"][0]["consentRequired"] = True
    app = create_app(realm_dict, issuer_base="http://localhost:8080", state_dir=tmp_path)
    async with browser(app, "http://localhost:8080") as http:
        page = await http.get(f"{OIDC}/auth", params=auth_params())
        consent = await http.post(form_action(page.text), data={"username": "alice", "password": "alice"})
        assert consent.status_code == 200 and 'id="kc-oauth"' in consent.text and 'name="accept"' in consent.text
        denied = await http.post(form_action(consent.text), data={"cancel": "No"})
        assert redirect_params(denied)["error"] == "access_denied"
        page = await http.get(f"{OIDC}/auth", params=auth_params(prompt="login"))
        consent = await http.post(form_action(page.text), data={"username": "alice", "password": "alice"})
        # A body the consent action cannot read is a page for the user; the consent stays pending.
        junk = await http.post(form_action(consent.text), content=b"{}", headers={"Content-Type": "application/json"})
        assert junk.status_code == 400 and "kc-error-message" in junk.text
        accepted = await http.post(form_action(consent.text), data={"accept": "Yes"})
        assert redirect_params(accepted)["code"]
        # Consent is remembered: the next login goes straight back.
        again = await http.get(f"{OIDC}/auth", params=auth_params())
        assert redirect_params(again)["code"]


async def test_prompt_consent_shows_nothing_for_a_client_without_consent(client):
    # Keycloak 26.7 ignores prompt=consent unless the client requires consent.
    page = await client.get(f"{OIDC}/auth", params=auth_params(prompt="consent"))
    done = await client.post(form_action(page.text), data={"username": "alice", "password": "alice"})
    assert done.status_code == 302 and "code" in redirect_params(done)
