"""Backend parity: what the proxy and the suites rely on is the same on the mock and on Keycloak.

Run on both (`pytest e2e` and `pytest e2e --sandbox-backend keycloak`). A difference found here is
fixed in the mock, not papered over in the test.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

import httpx
import pytest
from fastmcp.server.auth.oidc_proxy import OIDCConfiguration
from joserfc import jwt
from joserfc.jwk import KeySet

from sandbox.testing.headless import HeadlessBrowser, LoginFailed

CLI_CLIENT = "sandbox-cli"
REDIRECT_URI = "http://127.0.0.1:53682/callback"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def authorization_code(realm_url: str, user: str, challenge: str, nonce: str = "n-0S6") -> str:
    browser = HeadlessBrowser(user, user)
    query = httpx.QueryParams(
        client_id=CLI_CLIENT,
        redirect_uri=REDIRECT_URI,
        response_type="code",
        scope="openid profile email",
        state="parity",
        nonce=nonce,
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    result = await browser.authorize(f"{realm_url}/protocol/openid-connect/auth?{query}")
    assert browser.pages == ["login"]
    return result.code


async def exchange(realm_url: str, code: str, verifier: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{realm_url}/protocol/openid-connect/token",
            data={
                "grant_type": "authorization_code",
                "client_id": CLI_CLIENT,
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )


@pytest.fixture
def realm_url(sandbox) -> str:
    return sandbox.sandbox.upstream.realm_url


async def test_discovery_has_what_the_proxy_relies_on(realm_url):
    async with httpx.AsyncClient() as http:
        document = (await http.get(f"{realm_url}/.well-known/openid-configuration")).json()
    OIDCConfiguration.model_validate({**document, "strict": True})
    assert document["issuer"] == realm_url
    endpoints = {
        "authorization_endpoint": "/protocol/openid-connect/auth",
        "token_endpoint": "/protocol/openid-connect/token",
        "jwks_uri": "/protocol/openid-connect/certs",
        "userinfo_endpoint": "/protocol/openid-connect/userinfo",
        "revocation_endpoint": "/protocol/openid-connect/revoke",
        "introspection_endpoint": "/protocol/openid-connect/token/introspect",
        "end_session_endpoint": "/protocol/openid-connect/logout",
        "registration_endpoint": "/clients-registrations/openid-connect",
    }
    for field, path in endpoints.items():
        assert document[field] == realm_url + path, field
    assert {"authorization_code", "refresh_token", "client_credentials", "password"} <= set(
        document["grant_types_supported"]
    )
    assert "code" in document["response_types_supported"]
    assert "S256" in document["code_challenge_methods_supported"]
    assert {"client_secret_basic", "client_secret_post"} <= set(document["token_endpoint_auth_methods_supported"])
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert document["authorization_response_iss_parameter_supported"] is True


async def test_jwks_shape(realm_url):
    async with httpx.AsyncClient() as http:
        jwks = (await http.get(f"{realm_url}/protocol/openid-connect/certs")).json()
    signing = [key for key in jwks["keys"] if key.get("use") == "sig" and key.get("alg") == "RS256"]
    assert signing, jwks
    for key in signing:
        assert key["kty"] == "RSA" and key["kid"] and key["n"] and key["e"] == "AQAB"
    KeySet.import_key_set(jwks)  # a standard JOSE library accepts the set


async def test_access_and_id_token_claims(sandbox, realm_url):
    verifier, challenge = pkce_pair()
    code = await authorization_code(realm_url, "alice", challenge, nonce="nonce-123")
    response = await exchange(realm_url, code, verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0 and tokens["refresh_token"]

    async with httpx.AsyncClient() as http:
        keys = KeySet.import_key_set((await http.get(f"{realm_url}/protocol/openid-connect/certs")).json())
    access = jwt.decode(tokens["access_token"], keys, algorithms=["RS256"]).claims
    assert access["iss"] == realm_url
    audiences = access["aud"] if isinstance(access["aud"], list) else [access["aud"]]
    assert sandbox.mcp_url in audiences
    assert access["azp"] == CLI_CLIENT
    assert access["typ"] == "Bearer"
    # The file's roles with composites expanded (default-roles-<realm> holds two built-ins),
    # and nothing else: Keycloak grants imported users only the roles the file lists.
    assert sorted(access["realm_access"]["roles"]) == [
        "default-roles-sandbox",
        "mcp-admin",
        "mcp-user",
        "offline_access",
        "uma_authorization",
    ]
    assert access["preferred_username"] == "alice"
    assert {"openid", "profile", "email"} <= set(access["scope"].split())
    assert {"exp", "iat", "jti", "sub", "sid", "email", "name"} <= set(access)

    identity = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"]).claims
    assert identity["typ"] == "ID" and identity["aud"] == CLI_CLIENT and identity["nonce"] == "nonce-123"
    assert identity["sub"] == access["sub"] and identity["at_hash"]


async def test_wrong_password_errors(realm_url):
    browser = HeadlessBrowser("alice", "not-alice")
    _, challenge = pkce_pair()
    query = httpx.QueryParams(
        client_id=CLI_CLIENT,
        redirect_uri=REDIRECT_URI,
        response_type="code",
        scope="openid",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{realm_url}/protocol/openid-connect/auth?{query}")
        assert page.status_code == 200 and 'id="kc-form-login"' in page.text
        grant = await http.post(
            f"{realm_url}/protocol/openid-connect/token",
            data={"grant_type": "password", "client_id": CLI_CLIENT, "username": "alice", "password": "not-alice"},
        )
    assert grant.status_code == 400
    assert grant.json() == {"error": "invalid_grant", "error_description": "Invalid user credentials"}
    with pytest.raises(LoginFailed):  # the form came back: nothing was issued
        await browser.authorize(f"{realm_url}/protocol/openid-connect/auth?{query}")
    assert browser.pages == ["login"]


async def test_bad_pkce_verifier_is_invalid_grant(realm_url):
    _, challenge = pkce_pair()
    code = await authorization_code(realm_url, "bob", challenge)
    response = await exchange(realm_url, code, pkce_pair()[0])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_reused_code_is_invalid_grant(realm_url):
    verifier, challenge = pkce_pair()
    code = await authorization_code(realm_url, "bob", challenge)
    assert (await exchange(realm_url, code, verifier)).status_code == 200
    again = await exchange(realm_url, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


async def test_missing_pkce_is_redirected_back_as_invalid_request(realm_url):
    query = httpx.QueryParams(
        client_id=CLI_CLIENT, redirect_uri=REDIRECT_URI, response_type="code", scope="openid", state="s1"
    )
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{realm_url}/protocol/openid-connect/auth?{query}")
    assert response.status_code == 302
    location = httpx.URL(response.headers["location"])
    assert str(location).startswith(REDIRECT_URI)
    assert location.params["error"] == "invalid_request"
    assert location.params["error_description"] == "Missing parameter: code_challenge_method"
    assert location.params["state"] == "s1" and location.params["iss"] == realm_url


@pytest.mark.parametrize(
    "client_id, redirect_uri, message",
    [
        ("nope", REDIRECT_URI, "Client not found."),
        (CLI_CLIENT, "http://evil.example/cb", "Invalid parameter: redirect_uri"),
    ],
)
async def test_unredirectable_errors_are_an_error_page(realm_url, client_id, redirect_uri, message):
    query = httpx.QueryParams(client_id=client_id, redirect_uri=redirect_uri, response_type="code")
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{realm_url}/protocol/openid-connect/auth?{query}")
    assert response.status_code == 400
    assert message in response.text
