"""UserInfo, introspection (RFC 7662), revocation (RFC 7009) and logout."""

from __future__ import annotations

import re

from mockidp_support import OIDC, PROXY, PROXY_REDIRECT, auth_params, code_tokens, form_action, redirect_params


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_userinfo_returns_profile_claims(client, idp):
    tokens = await code_tokens(client)
    info = await client.get(f"{OIDC}/userinfo", headers=bearer(tokens["access_token"]))
    assert info.status_code == 200
    body = info.json()
    assert body["sub"] == idp.realm.user_id(idp.realm.users["alice"])
    assert (
        body["preferred_username"] == "alice"
        and body["email"] == "alice@example.com"
        and body["name"] == "Alice Liddell"
    )
    assert "realm_access" not in body  # the roles mapper is not in userinfo, as in Keycloak
    posted = await client.post(f"{OIDC}/userinfo", data={"access_token": tokens["access_token"]})
    assert posted.json() == body


async def test_userinfo_rejects_missing_bad_and_expired_tokens(client, idp):
    # Keycloak's answers: an empty body, the reason in the challenge alone.
    missing = await client.get(f"{OIDC}/userinfo")
    assert (
        missing.status_code == 401
        and missing.content == b""
        and missing.headers["www-authenticate"] == 'Bearer realm="sandbox"'
    )

    garbage = await client.get(f"{OIDC}/userinfo", headers=bearer("x.y.z"))
    assert garbage.status_code == 401
    tokens = await code_tokens(client)
    idp_token = await client.get(f"{OIDC}/userinfo", headers=bearer(tokens["id_token"]))
    assert idp_token.status_code == 401
    idp.clock.advance(301)
    expired = await client.get(f"{OIDC}/userinfo", headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401


async def test_introspection_of_access_and_refresh_tokens(client):
    tokens = await code_tokens(client)
    # Keycloak answers only the token's audience: the access token's is the MCP server and
    # the account console, not the proxy.
    access = (await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": tokens["access_token"]})).json()
    assert access == {"active": False}
    identity = (await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": tokens["id_token"]})).json()
    assert identity["active"] is True and identity["client_id"] == "sandbox-proxy" and identity["username"] == "alice"
    assert (
        "http://localhost:8000/mcp" in identity["aud"]
        and "sandbox-proxy" in identity["aud"]
        and identity["token_type"] == "ID"
    )
    refresh = (
        await client.post(
            f"{OIDC}/token/introspect",
            auth=PROXY,
            data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        )
    ).json()
    assert refresh["active"] is True and refresh["typ"] == "Refresh" and "mcp-admin" in refresh["realm_access"]["roles"]
    # A hint is binding, and an unknown one is refused.
    mismatched = (
        await client.post(
            f"{OIDC}/token/introspect",
            auth=PROXY,
            data={"token": tokens["refresh_token"], "token_type_hint": "access_token"},
        )
    ).json()
    assert mismatched == {"active": False}
    unknown = await client.post(
        f"{OIDC}/token/introspect", auth=PROXY, data={"token": tokens["id_token"], "token_type_hint": "magic"}
    )
    assert unknown.status_code == 400 and unknown.json() == {
        "error": "invalid_request",
        "error_description": "Unsupported token type.",
    }
    junk = (await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": "junk"})).json()
    assert junk == {"active": False}


async def test_introspection_requires_a_confidential_client(client):
    tokens = await code_tokens(client)
    public = await client.post(
        f"{OIDC}/token/introspect", data={"client_id": "sandbox-cli", "token": tokens["access_token"]}
    )
    assert public.status_code == 403 and public.json()["error"] == "invalid_request"
    unknown = await client.post(f"{OIDC}/token/introspect", auth=("x", "y"), data={"token": tokens["access_token"]})
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    no_token = await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={})
    assert no_token.status_code == 400 and no_token.json()["error"] == "invalid_request"


async def test_revoking_refresh_token_ends_the_client_session(client):
    tokens = await code_tokens(client)
    revoked = await client.post(
        f"{OIDC}/revoke", auth=PROXY, data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    )
    assert revoked.status_code == 200
    refresh = await client.post(
        f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refresh.json()["error"] == "invalid_grant"
    access = (await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": tokens["access_token"]})).json()
    assert access["active"] is False


async def test_revoking_access_token_only_kills_that_token(client):
    tokens = await code_tokens(client)
    assert (await client.post(f"{OIDC}/revoke", auth=PROXY, data={"token": tokens["access_token"]})).status_code == 200
    assert (await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": tokens["access_token"]})).json()[
        "active"
    ] is False
    refresh = await client.post(
        f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 200


async def test_revocation_errors(client):
    tokens = await code_tokens(client)
    unknown = await client.post(f"{OIDC}/revoke", auth=PROXY, data={"token": "unknown"})
    assert unknown.status_code == 200 and unknown.json() == {
        "error": "invalid_token",
        "error_description": "Invalid token",
    }
    assert (await client.post(f"{OIDC}/revoke", auth=PROXY, data={})).json()["error"] == "invalid_request"
    identity = await client.post(f"{OIDC}/revoke", auth=PROXY, data={"token": tokens["id_token"]})
    assert identity.status_code == 400 and identity.json()["error"] == "unsupported_token_type"
    other = await client.post(f"{OIDC}/revoke", data={"client_id": "sandbox-cli", "token": tokens["refresh_token"]})
    assert other.status_code == 400
    wrong = await client.post(f"{OIDC}/revoke", auth=("sandbox-proxy", "nope"), data={"token": tokens["refresh_token"]})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthorized_client"  # Keycloak 26.7's word


async def test_logout_with_id_token_hint_redirects_and_ends_session(client, idp):
    tokens = await code_tokens(client)
    response = await client.get(
        f"{OIDC}/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": PROXY_REDIRECT, "state": "bye"},
    )
    assert response.status_code == 302 and response.headers["location"] == f"{PROXY_REDIRECT}?state=bye"
    assert not idp.store.sessions
    assert (await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": tokens["id_token"]})).json()[
        "active"
    ] is False
    # The SSO cookie is gone: the next /auth shows the form again.
    page = await client.get(f"{OIDC}/auth", params=auth_params())
    assert 'id="kc-form-login"' in page.text


async def test_logout_without_hint_asks_for_confirmation(client, idp):
    await code_tokens(client)
    page = await client.get(f"{OIDC}/logout")
    assert page.status_code == 200 and 'id="kc-logout"' in page.text and idp.store.sessions
    session_code = re.search(r'name="session_code" value="([^"]+)"', page.text).group(1)  # as a browser posts it
    done = await client.post(form_action(page.text), data={"session_code": session_code, "confirmLogout": "doLogout"})
    assert done.status_code == 200 and "You are logged out" in done.text and not idp.store.sessions


async def test_logout_rejects_unregistered_redirect_and_bad_hint(client):
    tokens = await code_tokens(client)
    evil = await client.get(
        f"{OIDC}/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "http://evil.example/"},
    )
    assert evil.status_code == 400 and "Invalid redirect uri" in evil.text
    bad = await client.get(f"{OIDC}/logout", params={"id_token_hint": "nope"})
    assert bad.status_code == 400
    no_client = await client.get(f"{OIDC}/logout", params={"post_logout_redirect_uri": PROXY_REDIRECT})
    assert no_client.status_code == 400


async def test_refresh_token_logout_like_python_keycloak(client, idp):
    tokens = await code_tokens(client)
    response = await client.post(
        f"{OIDC}/logout",
        data={
            "client_id": "sandbox-proxy",
            "client_secret": "sandbox-proxy-secret",
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert response.status_code == 204 and not idp.store.sessions
    again = await client.get(f"{OIDC}/auth", params=auth_params())
    assert again.status_code == 200  # form, not an SSO redirect
    wrong = await client.post(
        f"{OIDC}/logout",
        data={"client_id": "sandbox-proxy", "client_secret": "x", "refresh_token": tokens["refresh_token"]},
    )
    assert wrong.status_code == 401


async def test_sso_reuses_session_then_tokens_share_sid(client, idp):
    first = await code_tokens(client)
    second = await code_tokens(client)
    assert first["session_state"] == second["session_state"]
    assert redirect_params(await client.get(f"{OIDC}/auth", params=auth_params()))["code"]
