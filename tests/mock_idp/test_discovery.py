"""Discovery, JWKS, realm info, and URLs derived from issuer_base only."""

from __future__ import annotations

from fastmcp.server.auth.oidc_proxy import OIDCConfiguration
from joserfc import jwt
from joserfc.jwk import KeySet
from mockidp_support import ISSUER, OIDC, auth_params, browser, code_tokens, form_action
from starlette.applications import Starlette
from starlette.routing import Mount

from mock_idp import create_app


async def test_discovery_document_matches_keycloak_layout(client):
    response = await client.get(f"{ISSUER}/.well-known/openid-configuration")
    assert response.status_code == 200
    doc = response.json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{OIDC}/auth"
    assert doc["token_endpoint"] == f"{OIDC}/token"
    assert doc["introspection_endpoint"] == f"{OIDC}/token/introspect"
    assert doc["userinfo_endpoint"] == f"{OIDC}/userinfo"
    assert doc["end_session_endpoint"] == f"{OIDC}/logout"
    assert doc["jwks_uri"] == f"{OIDC}/certs"
    assert doc["revocation_endpoint"] == f"{OIDC}/revoke"
    assert doc["registration_endpoint"] == f"{ISSUER}/clients-registrations/openid-connect"
    assert doc["code_challenge_methods_supported"] == ["plain", "S256"]
    assert {"authorization_code", "refresh_token", "client_credentials", "password"} <= set(
        doc["grant_types_supported"]
    )
    assert {"client_secret_basic", "client_secret_post"} <= set(doc["token_endpoint_auth_methods_supported"])
    assert {"openid", "profile", "email", "roles"} <= set(doc["scopes_supported"])
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


async def test_fastmcp_strict_oidc_model_accepts_the_document(client):
    doc = (await client.get(f"{ISSUER}/.well-known/openid-configuration")).json()
    config = OIDCConfiguration.model_validate({**doc, "strict": True})
    assert str(config.issuer).rstrip("/") == ISSUER
    assert str(config.jwks_uri) == f"{OIDC}/certs"


async def test_jwks_publishes_the_signing_key_with_kid(client):
    jwks = (await client.get(f"{OIDC}/certs")).json()
    [key] = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key and "p" not in key
    tokens = await code_tokens(client)
    token = jwt.decode(tokens["access_token"], KeySet.import_key_set(jwks))
    assert token.header == {"alg": "RS256", "typ": "JWT", "kid": key["kid"]}


async def test_discovery_and_jwks_carry_keycloaks_headers_and_answer_head(client):
    # Keycloak 26.7.3's Cache-Control on each, and no ETag (checked against a live one).
    expected = {
        f"{ISSUER}/.well-known/openid-configuration": "no-cache, must-revalidate, no-transform, no-store",
        f"{ISSUER}/.well-known/oauth-authorization-server": "no-cache, must-revalidate, no-transform, no-store",
        f"{OIDC}/certs": "no-cache",
    }
    for url, cache_control in expected.items():
        got = await client.get(url)
        assert got.status_code == 200 and got.headers["content-type"] == "application/json"
        assert got.headers["cache-control"] == cache_control and "etag" not in got.headers
        assert int(got.headers["content-length"]) == len(got.content) and got.json()
        head = await client.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"]
        assert (await client.post(url)).status_code == 405


async def test_jwks_follows_key_rotation_and_the_end_of_the_grace_period(client, idp):
    first = {key["kid"] for key in (await client.get(f"{OIDC}/certs")).json()["keys"]}
    new_kid = idp.keys.rotate(grace_seconds=60)
    both = {key["kid"] for key in (await client.get(f"{OIDC}/certs")).json()["keys"]}
    assert both == first | {new_kid} and len(both) == 2
    idp.clock.advance(61)
    assert {key["kid"] for key in (await client.get(f"{OIDC}/certs")).json()["keys"]} == {new_kid}


async def test_realm_info_like_keycloak(client):
    info = (await client.get(ISSUER)).json()
    assert (
        info["realm"] == "sandbox"
        and info["token-service"] == f"{ISSUER}/protocol/openid-connect"
        and info["public_key"]
    )


async def test_unknown_path_and_realm_are_json_404(client):
    for path in ("/realms/other/.well-known/openid-configuration", "/nope"):
        response = await client.get(path)
        assert response.status_code == 404 and response.json()["error"] in ("Realm does not exist", "not_found")
    assert (await client.get("/realms/other/.well-known/openid-configuration")).json() == {
        "error": "Realm does not exist"
    }


async def test_urls_derive_from_issuer_base_not_host_header_when_mounted(realm_dict, tmp_path):
    idp_app = create_app(realm_dict, issuer_base="http://localhost:8000/idp", state_dir=tmp_path)
    outer = Starlette(routes=[Mount("/idp", app=idp_app)])
    async with browser(outer, "http://127.0.0.1:8000") as http:
        doc = (await http.get("/idp/realms/sandbox/.well-known/openid-configuration")).json()
        assert doc["issuer"] == "http://localhost:8000/idp/realms/sandbox"
        assert doc["token_endpoint"] == "http://localhost:8000/idp/realms/sandbox/protocol/openid-connect/token"
        page = await http.get("/idp/realms/sandbox/protocol/openid-connect/auth", params=auth_params())
        action = form_action(page.text)
        assert action.startswith("http://localhost:8000/idp/realms/sandbox/login-actions/authenticate?")
        done = await http.post(
            action.replace("http://localhost:8000", ""), data={"username": "alice", "password": "alice"}
        )
        assert done.status_code == 302
        set_cookies = done.headers.get_list("set-cookie")
        assert set_cookies and all(c.count("Path=/idp/realms/sandbox/") == 1 for c in set_cookies)
        assert "iss=http%3A%2F%2Flocalhost%3A8000%2Fidp%2Frealms%2Fsandbox" in done.headers["location"]
