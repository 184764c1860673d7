"""Dynamic Client Registration (RFC 7591/7592) under the realm's anonymous policies."""

from __future__ import annotations

import pytest
from mockidp_support import ISSUER, OIDC, auth_params, browser, form_action, redirect_params

from mock_idp import create_app
from mock_idp.pkce import s256

DCR = f"{ISSUER}/clients-registrations/openid-connect"
REDIRECT = "http://127.0.0.1:33418/callback"


async def test_register_public_client_then_run_the_code_flow(client):
    response = await client.post(
        DCR, json={"client_name": "My MCP client", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (
        body["redirect_uris"] == [REDIRECT]
        and body["token_endpoint_auth_method"] == "none"
        and "client_secret" not in body
    )
    assert body["grant_types"] == ["authorization_code", "refresh_token"] and body["response_types"] == ["code", "none"]
    assert body["registration_client_uri"] == f"{DCR}/{body['client_id']}" and body["registration_access_token"]
    verifier = "x" * 50
    page = await client.get(
        f"{OIDC}/auth",
        params=auth_params(client_id=body["client_id"], redirect_uri=REDIRECT, code_challenge=s256(verifier)),
    )
    done = await client.post(form_action(page.text), data={"username": "bob", "password": "bob"})
    code = redirect_params(done)["code"]
    tokens = await client.post(
        f"{OIDC}/token",
        data={
            "grant_type": "authorization_code",
            "client_id": body["client_id"],
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200, tokens.text


async def test_register_confidential_client_read_and_delete(client):
    response = await client.post(
        DCR, json={"redirect_uris": ["http://localhost:9000/cb"], "token_endpoint_auth_method": "client_secret_post"}
    )
    body = response.json()
    assert (
        response.status_code == 201
        and body["client_secret"]
        and body["client_secret_expires_at"] == 0
        and body["client_id_issued_at"]
    )
    auth = {"Authorization": f"Bearer {body['registration_access_token']}"}
    read = await client.get(body["registration_client_uri"], headers=auth)
    assert read.status_code == 200 and read.json()["client_id"] == body["client_id"]
    assert read.json()["client_secret"] == body["client_secret"]
    assert (
        await client.get(body["registration_client_uri"], headers={"Authorization": "Bearer nope"})
    ).status_code == 401
    auth = {"Authorization": f"Bearer {read.json()['registration_access_token']}"}  # a read replaced it
    assert (await client.delete(body["registration_client_uri"], headers=auth)).status_code == 204
    assert (await client.get(body["registration_client_uri"], headers=auth)).status_code == 401


async def test_untrusted_redirect_host_is_rejected_like_keycloak(client, idp):
    response = await client.post(
        DCR, json={"redirect_uris": ["https://evil.example.com/cb"], "token_endpoint_auth_method": "none"}
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "Policy 'Trusted Hosts' rejected request to client-registration service. Details: URI doesn't match any trusted host or trusted domain",
    }
    assert not idp.store.registered_clients


@pytest.mark.parametrize(
    "body, error, description",
    [
        # Keycloak binds the body with Jackson: a value of the wrong JSON type does not parse.
        ({"redirect_uris": "http://localhost/cb"}, "unknown_error", "Cannot parse the JSON"),
        ({"redirect_uris": [1]}, "unknown_error", "Cannot parse the JSON"),
        ({"redirect_uris": ["http://localhost/cb"], "client_name": {"x": 1}}, "unknown_error", "Cannot parse the JSON"),
        ({"redirect_uris": ["not-a-uri"]}, "invalid_redirect_uri", "Invalid redirect_uri: not-a-uri"),
        (
            {"redirect_uris": ["http://localhost/cb#frag"]},
            "invalid_redirect_uri",
            "Invalid redirect_uri: http://localhost/cb#frag",
        ),
        (
            {"redirect_uris": ["http://localhost/cb"], "token_endpoint_auth_method": "private_key_jwt"},
            "invalid_client_metadata",
            "Client metadata invalid",
        ),
        (
            {"redirect_uris": ["http://localhost/cb"], "grant_types": ["implicit"]},
            "invalid_client_metadata",
            "Client metadata invalid",
        ),
        (
            {"redirect_uris": ["http://localhost/cb"], "response_types": ["token"]},
            "invalid_client_metadata",
            "Client metadata invalid",
        ),
    ],
)
async def test_invalid_metadata_is_400_with_keycloaks_texts(client, body, error, description):
    response = await client.post(DCR, json=body)
    assert response.status_code == 400 and response.json() == {"error": error, "error_description": description}


async def test_unknown_field_is_refused_naming_it_and_where_jackson_stopped(client, idp):
    content = b'{"redirect_uris": ["http://localhost/cb"],\n "no_such_field": true}'
    response = await client.post(DCR, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {
        "error": 'Invalid json representation for OIDCClientRepresentation. Unrecognized field "no_such_field" '
        "at line 2 column 23."
    }
    assert not idp.store.registered_clients


async def test_registration_without_redirect_uris_and_with_client_secret_jwt_is_accepted(client):
    bare = await client.post(DCR, json={"token_endpoint_auth_method": "none"})
    assert (
        bare.status_code == 201
        and bare.json()["redirect_uris"] == []
        and bare.json()["post_logout_redirect_uris"] == []
    )
    jwt_client = await client.post(
        DCR, json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_jwt"}
    )
    assert jwt_client.status_code == 201 and jwt_client.json()["client_secret"]
    assert jwt_client.headers["location"] == jwt_client.json()["registration_client_uri"]


async def test_a_read_replaces_the_registration_token(client, idp):
    body = (await client.post(DCR, json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})).json()
    first = {"Authorization": f"Bearer {body['registration_access_token']}"}
    read = await client.get(body["registration_client_uri"], headers=first)
    assert read.status_code == 200 and "client_id_issued_at" not in read.json()
    assert read.json()["response_types"] == ["code", "none"] and read.json()["scope"] == "offline_access"
    claims = idp.keys.verify(read.json()["registration_access_token"])
    assert claims["typ"] == "RegistrationAccessToken" and claims["registration_auth"] == "anonymous"
    assert (await client.get(body["registration_client_uri"], headers=first)).status_code == 401
    latest = {"Authorization": f"Bearer {read.json()['registration_access_token']}"}
    assert (await client.delete(body["registration_client_uri"], headers=latest)).status_code == 204


@pytest.mark.parametrize(
    "content, content_type, error, description",
    [
        (b"{not json", "application/json", "invalid_request", "Cannot parse the JSON"),
        (b"\xff\xfe", "application/json", "invalid_request", "Cannot parse the JSON"),
        (b"[1,2]", "application/json", "unknown_error", "Cannot parse the JSON"),
        (
            b"a=b",
            "application/x-www-form-urlencoded",
            "invalid_client_metadata",
            "Content-Type must be application/json",
        ),
    ],
)
async def test_malformed_json_is_400(client, content, content_type, error, description):
    response = await client.post(DCR, content=content, headers={"Content-Type": content_type})
    assert response.status_code == 400 and response.json() == {"error": error, "error_description": description}


async def test_initial_access_tokens_are_not_supported(client):
    response = await client.post(DCR, json={"redirect_uris": [REDIRECT]}, headers={"Authorization": "Bearer whatever"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


def _app_with_policies(realm_dict, tmp_path, policies):
    realm_dict["components"] = {"org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy": policies}
    return create_app(realm_dict, issuer_base="http://localhost:8080", state_dir=tmp_path)


async def test_sending_host_must_match_when_configured(realm_dict, tmp_path):
    trusted = {
        "name": "Trusted Hosts",
        "providerId": "trusted-hosts",
        "subType": "anonymous",
        "config": {"trusted-hosts": ["localhost"], "host-sending-registration-request-must-match": ["true"]},
    }
    app = _app_with_policies(realm_dict, tmp_path, [trusted])
    for sender, status in ((("127.0.0.1", 1), 201), (("10.1.2.3", 1), 403)):
        async with browser(app, "http://localhost:8080", client=sender) as http:
            response = await http.post(DCR, json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})
            assert response.status_code == status
    assert "Host not trusted." in response.json()["error_description"]


async def test_max_clients_and_consent_required_policies(realm_dict, tmp_path):
    policies = [
        {
            "name": "Max Clients Limit",
            "providerId": "max-clients",
            "subType": "anonymous",
            "config": {"max-clients": ["4"]},
        },
        {"name": "Consent Required", "providerId": "consent-required", "subType": "anonymous", "config": {}},
    ]
    app = _app_with_policies(realm_dict, tmp_path, policies)
    async with browser(app, "http://localhost:8080") as http:
        first = await http.post(DCR, json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})
        assert first.status_code == 201  # 3 realm clients + this one = 4
        full = await http.post(DCR, json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})
        assert full.status_code == 403 and "Policy 'Max Clients Limit'" in full.json()["error_description"]
        client_id = first.json()["client_id"]
        page = await http.get(f"{OIDC}/auth", params=auth_params(client_id=client_id, redirect_uri=REDIRECT))
        consent = await http.post(form_action(page.text), data={"username": "alice", "password": "alice"})
        assert 'id="kc-oauth"' in consent.text and 'name="accept"' in consent.text


async def test_keycloak_default_policies_apply_when_the_realm_declares_none(realm_dict, tmp_path):
    app = _app_with_policies(realm_dict, tmp_path, [])
    async with browser(app, "http://localhost:8080") as http:
        response = await http.post(DCR, json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})
    assert response.status_code == 403 and "Trusted Hosts" in response.json()["error_description"]


async def _dcr_token_claims(client, registration: dict) -> dict:
    import base64
    import json

    body = (
        await client.post(DCR, json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", **registration})
    ).json()
    verifier = "v" * 50
    scope = registration.get("scope", "openid profile email offline_access")
    params = auth_params(client_id=body["client_id"], redirect_uri=REDIRECT, code_challenge=s256(verifier), scope=scope)
    page = await client.get(f"{OIDC}/auth", params=params)
    if page.status_code == 200:  # the first time; later ones ride on the SSO cookie
        page = await client.post(form_action(page.text), data={"username": "alice", "password": "alice"})
    assert page.status_code == 302, page.text
    assert "code" in redirect_params(page), redirect_params(page)
    tokens = await client.post(
        f"{OIDC}/token",
        data={
            "grant_type": "authorization_code",
            "client_id": body["client_id"],
            "code": redirect_params(page)["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    )
    payload = tokens.json()["access_token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def test_registered_scope_narrows_the_clients_scopes_like_keycloak(client):
    # Seen on Keycloak 26.7.3: without `scope`, a DCR client gets every realm default scope
    # (so the mcp-audience mapper applies); naming `scope` leaves `basic` as the only default
    # and makes the named scopes optional, so only what is named and requested applies.
    everything = await _dcr_token_claims(client, {})
    assert "http://localhost:8000/mcp" in everything["aud"]
    assert {"mcp-user", "mcp-admin"} <= set(everything["realm_access"]["roles"])
    narrowed = await _dcr_token_claims(client, {"scope": "openid profile email offline_access"})
    assert "aud" not in narrowed or "http://localhost:8000/mcp" not in narrowed["aud"]
    assert "realm_access" not in narrowed  # the roles scope was not named
    assert {"profile", "email", "offline_access"} <= set(narrowed["scope"].split())
    named = await _dcr_token_claims(client, {"scope": "openid mcp-audience"})
    assert "http://localhost:8000/mcp" in named["aud"]
