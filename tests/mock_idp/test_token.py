"""Token endpoint: grants, client authentication, Keycloak token shape, and every bad input."""

from __future__ import annotations

import base64
import hashlib
import itertools

import pytest
from joserfc import jws, jwt
from joserfc.errors import JoseError
from mockidp_support import ISSUER, OIDC, PROXY, PROXY_REDIRECT, VERIFIER, code_tokens, login

CODE_FORM = {"grant_type": "authorization_code", "redirect_uri": PROXY_REDIRECT, "code_verifier": VERIFIER}


def decode(idp, token: str):
    return jwt.decode(token, idp.keys.key, algorithms=["RS256"])


async def exchange(client, code: str, auth=PROXY, **overrides):
    data = {**CODE_FORM, "code": code, **overrides}
    return await client.post(f"{OIDC}/token", auth=auth, data={k: v for k, v in data.items() if v is not None})


async def introspect(client, token: str) -> dict:
    return (await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": token})).json()


async def test_token_response_and_claims_are_keycloak_shaped(client, idp, still_clock):
    tokens = await code_tokens(client)
    assert set(tokens) == {
        "access_token",
        "expires_in",
        "refresh_expires_in",
        "refresh_token",
        "token_type",
        "id_token",
        "not-before-policy",
        "session_state",
        "scope",
    }
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 300 and tokens["refresh_expires_in"] == 1800
    assert tokens["not-before-policy"] == 0 and tokens["scope"] == "openid profile email"
    access = decode(idp, tokens["access_token"])
    assert access.header == {"alg": "RS256", "typ": "JWT", "kid": idp.keys.kid}
    claims = access.claims
    assert claims["iss"] == ISSUER and claims["typ"] == "Bearer" and claims["azp"] == "sandbox-proxy"
    assert claims["aud"] == [
        "account",
        "http://localhost:8000/mcp",
    ]  # the account console's roles come with the default role
    assert claims["sub"] == idp.realm.user_id(idp.realm.users["alice"])
    assert claims["sid"] == tokens["session_state"] and claims["scope"] == "openid profile email"
    assert claims["exp"] - claims["iat"] == 300 and claims["jti"].startswith("onrtac:")
    assert (
        claims["preferred_username"] == "alice"
        and claims["email"] == "alice@example.com"
        and claims["email_verified"] is True
    )
    assert claims["name"] == "Alice Liddell" and claims["given_name"] == "Alice" and claims["family_name"] == "Liddell"
    assert sorted(claims["realm_access"]["roles"]) == [
        "default-roles-sandbox",
        "mcp-admin",
        "mcp-user",
        "offline_access",
        "uma_authorization",
    ]
    id_claims = decode(idp, tokens["id_token"]).claims
    assert id_claims["typ"] == "ID" and id_claims["aud"] == "sandbox-proxy" and id_claims["nonce"] == "n-1"
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()[:16]
    assert id_claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert id_claims["sub"] == claims["sub"] and id_claims["sid"] == claims["sid"] and "realm_access" not in id_claims
    # Keycloak's refresh token: HS512 under a secret whose kid no JWKS lists, so only the realm reads it.
    header = jws.extract_compact(tokens["refresh_token"].encode()).headers()
    assert header["alg"] == "HS512" and header["kid"] not in {key["kid"] for key in idp.keys.jwks()["keys"]}
    with pytest.raises(JoseError):
        decode(idp, tokens["refresh_token"])
    refresh = idp.keys.verify(tokens["refresh_token"])
    assert refresh["typ"] == "Refresh" and refresh["aud"] == ISSUER and refresh["exp"] - refresh["iat"] == 1800
    assert refresh["aud_x"] == claims["aud"] and refresh["prov"] == "default" and refresh["reuse_id"]


async def test_sub_is_stable_per_user_and_differs_between_users(client, idp):
    first = decode(idp, (await code_tokens(client))["access_token"]).claims["sub"]
    client.cookies.clear()
    second = decode(idp, (await code_tokens(client))["access_token"]).claims["sub"]
    client.cookies.clear()
    bob = decode(idp, (await code_tokens(client, username="bob"))["access_token"]).claims
    assert first == second != bob["sub"]
    assert bob["realm_access"]["roles"].count("mcp-admin") == 0


async def test_client_secret_post_works_like_basic(client):
    code = (await login(client))["code"]
    response = await exchange(client, code, auth=None, client_id="sandbox-proxy", client_secret="sandbox-proxy-secret")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "auth, extra, status, error",
    [
        (("nobody", "x"), {}, 401, "invalid_client"),
        # A known client with a wrong or missing secret: Keycloak 26.7 says unauthorized_client.
        (("sandbox-proxy", "wrong"), {}, 401, "unauthorized_client"),
        (None, {"client_id": "sandbox-proxy", "client_secret": "wrong"}, 401, "unauthorized_client"),
        (None, {"client_id": "sandbox-proxy"}, 401, "unauthorized_client"),
        (None, {}, 401, "invalid_client"),
        (PROXY, {"client_secret": "sandbox-proxy-secret"}, 400, "invalid_request"),
    ],
)
async def test_client_authentication_failures(client, idp, auth, extra, status, error):
    code = (await login(client))["code"]
    response = await client.post(f"{OIDC}/token", auth=auth, data={**CODE_FORM, "code": code, **extra})
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert not idp.store.client_sessions


async def test_reused_code_is_rejected_and_revokes_first_use_tokens(client):
    code = (await login(client))["code"]
    first = await exchange(client, code)
    assert first.status_code == 200
    tokens = first.json()
    # The ID token stands for the session: the proxy is its audience, not the access token's.
    assert (await introspect(client, tokens["id_token"]))["active"] is True
    second = await exchange(client, code)
    assert second.status_code == 400 and second.json() == {
        "error": "invalid_grant",
        "error_description": "Code not valid",
    }
    assert (await introspect(client, tokens["id_token"]))["active"] is False
    refreshed = await client.post(
        f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    info = await client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 401


async def test_code_from_another_client_is_rejected(client):
    code = (await login(client, client_id="sandbox-cli", redirect_uri="http://localhost:9999/cb"))["code"]
    response = await exchange(client, code, redirect_uri="http://localhost:9999/cb")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    # and the code was consumed: its real owner cannot use it afterwards either
    owner = await exchange(client, code, auth=None, client_id="sandbox-cli", redirect_uri="http://localhost:9999/cb")
    assert owner.status_code == 400 and owner.json()["error_description"] == "Code not valid"


async def test_expired_code_is_rejected(client, idp):
    code = (await login(client))["code"]
    idp.clock.advance(61)
    response = await exchange(client, code)
    assert response.status_code == 400 and response.json() == {
        "error": "invalid_grant",
        "error_description": "Code is expired",
    }


@pytest.mark.parametrize(
    "overrides, description",
    [
        ({"code_verifier": None}, "PKCE code verifier not specified"),
        ({"code_verifier": "w" * 43}, "PKCE verification failed"),
        ({"code_verifier": "bad"}, "PKCE verification failed"),
        ({"redirect_uri": "http://localhost:8000/other"}, "Incorrect redirect_uri"),
        ({"code": "made-up"}, "Code not valid"),
    ],
)
async def test_bad_code_exchanges_are_invalid_grant(client, idp, overrides, description):
    code = overrides.pop("code", None) or (await login(client))["code"]
    response = await exchange(client, code, **overrides)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant" and description in response.json()["error_description"]
    assert not idp.store.client_sessions


async def test_missing_code_is_invalid_request(client):
    response = await client.post(f"{OIDC}/token", auth=PROXY, data={"grant_type": "authorization_code"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_refresh_rotates_and_reuse_kills_the_session(client, idp):
    tokens = await code_tokens(client)

    def refresh(token):
        return client.post(f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": token})

    first = await refresh(tokens["refresh_token"])
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"] and rotated["session_state"] == tokens["session_state"]
    assert decode(idp, rotated["access_token"]).claims["aud"] == ["account", "http://localhost:8000/mcp"]
    reuse = await refresh(tokens["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.json() == {
        "error": "invalid_grant",
        "error_description": "Maximum allowed refresh token reuse exceeded",
    }
    # Keycloak ends the session: the rotated tokens die too.
    assert (await refresh(rotated["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await introspect(client, rotated["access_token"]))["active"] is False


async def test_refresh_by_another_client_or_garbage_is_rejected(client):
    tokens = await code_tokens(client)
    other = await client.post(
        f"{OIDC}/token",
        data={"grant_type": "refresh_token", "client_id": "sandbox-cli", "refresh_token": tokens["refresh_token"]},
    )
    assert other.status_code == 400 and "don't match" in other.json()["error_description"]
    garbage = await client.post(
        f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": "a.b.c"}
    )
    assert garbage.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    access = await client.post(
        f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": tokens["access_token"]}
    )
    assert access.json()["error"] == "invalid_grant"


async def test_refresh_after_idle_timeout_fails(client, idp):
    tokens = await code_tokens(client)
    idp.clock.advance(1801)
    response = await client.post(
        f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_password_grant_only_for_direct_access_clients(client, idp):
    ok = await client.post(
        f"{OIDC}/token",
        data={
            "grant_type": "password",
            "client_id": "sandbox-cli",
            "username": "bob",
            "password": "bob",
            "scope": "openid",
        },
    )
    assert ok.status_code == 200 and "id_token" in ok.json()
    assert decode(idp, ok.json()["access_token"]).claims["preferred_username"] == "bob"
    wrong = await client.post(
        f"{OIDC}/token",
        data={"grant_type": "password", "client_id": "sandbox-cli", "username": "bob", "password": "alice"},
    )
    assert wrong.status_code == 400 and wrong.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid user credentials",
    }
    proxy = await client.post(
        f"{OIDC}/token", auth=PROXY, data={"grant_type": "password", "username": "bob", "password": "bob"}
    )
    assert proxy.status_code == 400 and proxy.json()["error"] == "unauthorized_client"


async def test_client_credentials_only_for_service_account_clients(client, idp):
    denied = await client.post(f"{OIDC}/token", auth=PROXY, data={"grant_type": "client_credentials"})
    assert denied.status_code == 401 and denied.json()["error"] == "unauthorized_client"
    idp.realm.clients["sandbox-proxy"].service_accounts = True
    ok = await client.post(f"{OIDC}/token", auth=PROXY, data={"grant_type": "client_credentials"})
    assert ok.status_code == 200 and "refresh_token" not in ok.json()
    claims = decode(idp, ok.json()["access_token"]).claims
    assert (
        claims["preferred_username"] == "service-account-sandbox-proxy"
        and claims["azp"] == "sandbox-proxy"
        and "sid" not in claims
    )
    # The proxy is not in the token's audience, so Keycloak tells it nothing.
    assert await introspect(client, ok.json()["access_token"]) == {"active": False}


def _state_files(state_dir):
    return {path: path.stat().st_mtime_ns for path in state_dir.rglob("*") if path.is_file()}


async def test_a_service_account_token_writes_nothing_to_the_state_directory(client, idp, state_dir):
    # No session, no refresh token: nothing to keep, so no disk write (an fsync each) per token.
    idp.realm.clients["sandbox-proxy"].service_accounts = True
    await code_tokens(client)  # a user session: state that is on disk
    before = _state_files(state_dir)
    for _ in range(3):
        ok = await client.post(f"{OIDC}/token", auth=PROXY, data={"grant_type": "client_credentials"})
        assert ok.status_code == 200
    assert _state_files(state_dir) == before
    await code_tokens(client)  # a user token still writes its session through
    assert _state_files(state_dir) != before


@pytest.mark.parametrize(
    "data, status, error",
    [
        ({}, 400, "invalid_request"),
        ({"grant_type": "urn:foo"}, 400, "unsupported_grant_type"),
        ({"grant_type": "implicit"}, 400, "unsupported_grant_type"),
    ],
)
async def test_grant_type_errors(client, data, status, error):
    response = await client.post(f"{OIDC}/token", auth=PROXY, data=data)
    assert (response.status_code, response.json()["error"]) == (status, error)


async def test_tokens_stay_valid_when_a_second_ticks_over_while_they_are_issued(client, idp, monkeypatch):
    # A slow machine: every reading of the clock is 0.4 s after the one before, so seconds
    # tick over between the reads one token grant makes.
    readings = itertools.count(idp.clock.now(), 0.4)
    monkeypatch.setattr(type(idp.clock), "now", lambda self: next(readings))
    tokens = await client.post(
        f"{OIDC}/token",
        data={
            "grant_type": "password",
            "client_id": "sandbox-cli",
            "username": "alice",
            "password": "alice",
            "scope": "openid",
        },
    )
    assert tokens.status_code == 200, tokens.text
    userinfo = await client.get(
        f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert userinfo.status_code == 200, userinfo.text


async def test_offline_access_gives_keycloaks_offline_token_which_refreshes(client, idp):
    tokens = await code_tokens(client, scope="openid offline_access")
    assert tokens["refresh_expires_in"] == 0
    offline = idp.keys.verify(tokens["refresh_token"])
    assert offline["typ"] == "Offline" and "exp" not in offline and "offline_access" in offline["scope"].split()
    assert decode(idp, tokens["access_token"]).claims["jti"].startswith("ofrtac:")
    refreshed = await client.post(
        f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert idp.keys.verify(refreshed.json()["refresh_token"])["typ"] == "Offline"
    assert decode(idp, refreshed.json()["access_token"]).claims["jti"].startswith("ofrtrt:")
