"""Injected faults: each kind fires as specified, one-shot or persistent, and clears."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from joserfc import jwt
from mockidp_support import (
    BASE,
    ISSUER,
    OIDC,
    PROXY,
    admin_token,
    auth_params,
    browser,
    code_tokens,
    form_action,
    redirect_params,
)
from starlette.applications import Starlette
from starlette.routing import Mount

from mock_idp import create_app
from mock_idp.faults import ENDPOINTS, LOGIN_DENIED, WRONG_AUDIENCE, WRONG_ISSUER, endpoint_for

FAULTS = "/admin/realms/sandbox/x-mock/faults"
PASSWORD_GRANT = {"grant_type": "password", "client_id": "sandbox-cli", "username": "bob", "password": "bob"}


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> dict[str, str]:
    return await admin_token(client)


async def _arm(client: httpx.AsyncClient, admin: dict[str, str], **spec: object) -> dict:
    response = await client.post(FAULTS, json=spec, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def _armed(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict]:
    return (await client.get(FAULTS, headers=admin)).json()["faults"]


async def _password(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(f"{OIDC}/token", data=PASSWORD_GRANT)


async def test_status_fault_is_one_shot_by_default(client, admin):
    fault = await _arm(client, admin, endpoint="token", kind="status", status=503)
    assert fault["times"] == 1 and fault["id"]
    failed = await _password(client)
    assert failed.status_code == 503 and failed.json() == {
        "error": "temporarily_unavailable",
        "error_description": f"Injected by sandbox fault {fault['id']}",
    }
    assert (await _password(client)).status_code == 200
    assert await _armed(client, admin) == []


async def test_persistent_fault_fires_until_removed(client, admin):
    fault = await _arm(
        client,
        admin,
        endpoint="certs",
        kind="status",
        status=500,
        error="server_error",
        error_description="boom",
        times=None,
    )
    for _ in range(3):
        response = await client.get(f"{OIDC}/certs")
        assert response.status_code == 500 and response.json() == {"error": "server_error", "error_description": "boom"}
    assert (await _armed(client, admin))[0]["fired"] == 3
    assert (await client.delete(f"{FAULTS}/{fault['id']}", headers=admin)).status_code == 204
    assert (await client.get(f"{OIDC}/certs")).status_code == 200
    gone = await client.delete(f"{FAULTS}/{fault['id']}", headers=admin)
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"


async def test_counted_fault_fires_that_many_times_and_clear_all(client, admin):
    await _arm(client, admin, endpoint="userinfo", kind="status", status=502, times=2)
    await _arm(client, admin, endpoint="discovery", kind="status", status=500, times=None)
    assert [(await client.get(f"{OIDC}/userinfo")).status_code for _ in range(3)] == [502, 502, 401]
    assert (await client.delete(FAULTS, headers=admin)).status_code == 204
    assert await _armed(client, admin) == []
    assert (await client.get(f"{ISSUER}/.well-known/openid-configuration")).status_code == 200


@pytest.mark.parametrize(
    ("error", "status"), [("invalid_grant", 400), ("invalid_client", 401), ("temporarily_unavailable", 503)]
)
async def test_oauth_error_fault_uses_keycloaks_status(client, admin, error, status):
    await _arm(client, admin, endpoint="token", kind="oauth_error", error=error, error_description="injected")
    response = await _password(client)
    assert response.status_code == status and response.json() == {"error": error, "error_description": "injected"}
    assert response.headers["cache-control"] == "no-store"
    assert (await _password(client)).status_code == 200


async def test_oauth_error_at_authorize_redirects_to_the_client(client, admin):
    await _arm(client, admin, endpoint="authorize", kind="oauth_error", error="access_denied", error_description="nope")
    response = await client.get(f"{OIDC}/auth", params=auth_params())
    assert redirect_params(response) == {
        "error": "access_denied",
        "error_description": "nope",
        "state": "st-1",
        "iss": ISSUER,
    }
    assert (await client.get(f"{OIDC}/auth", params=auth_params())).status_code == 200  # the login form again


async def test_oauth_error_at_authorize_for_an_unknown_client_is_json(client, admin):
    await _arm(client, admin, endpoint="authorize", kind="oauth_error", error="server_error")
    response = await client.get(f"{OIDC}/auth", params=auth_params(client_id="nope"))
    assert response.status_code == 500 and response.json()["error"] == "server_error"


async def test_delay_fault_sleeps_then_answers_normally(client, admin):
    await _arm(client, admin, endpoint="certs", kind="delay", delay_seconds=0.3)
    started = time.monotonic()
    response = await client.get(f"{OIDC}/certs")
    assert time.monotonic() - started >= 0.3 and response.status_code == 200 and response.json()["keys"]
    started = time.monotonic()
    await client.get(f"{OIDC}/certs")
    assert time.monotonic() - started < 0.3


async def test_delay_combines_with_a_following_fault(client, admin):
    await _arm(client, admin, endpoint="token", kind="delay", delay_seconds=0.1, times=None)
    await _arm(client, admin, endpoint="token", kind="status", status=504)
    started = time.monotonic()
    assert (await _password(client)).status_code == 504
    assert (await _password(client)).status_code == 200 and time.monotonic() - started >= 0.2


async def test_malformed_body_fault(client, admin):
    await _arm(client, admin, endpoint="discovery", kind="malformed_body")
    response = await client.get(f"{ISSUER}/.well-known/openid-configuration")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert (await client.get(f"{ISSUER}/.well-known/openid-configuration")).json()["issuer"] == ISSUER


async def test_wrong_issuer_fault_affects_the_next_token_only(client, admin, idp):
    await _arm(client, admin, kind="wrong_issuer")  # endpoint defaults to "token"
    bad = await code_tokens(client)
    for name in ("access_token", "id_token", "refresh_token"):
        # keys.verify: the refresh token is HS512 under the realm's secret, the others RS256.
        assert idp.keys.verify(bad[name])["iss"] == WRONG_ISSUER
    # The mock itself does not accept what it "mis-issued".
    assert (await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": bad["access_token"]})).json() == {
        "active": False
    }
    good = await code_tokens(client)
    assert jwt.decode(good["access_token"], idp.keys.key).claims["iss"] == ISSUER


async def test_wrong_audience_fault(client, admin, idp):
    await _arm(client, admin, endpoint="token", kind="wrong_audience", times=2)
    for _ in range(2):
        tokens = await code_tokens(client)
        assert jwt.decode(tokens["access_token"], idp.keys.key).claims["aud"] == WRONG_AUDIENCE
        assert jwt.decode(tokens["id_token"], idp.keys.key).claims["aud"] == WRONG_AUDIENCE
    tokens = await code_tokens(client)
    assert jwt.decode(tokens["access_token"], idp.keys.key).claims["aud"] == ["account", "http://localhost:8000/mcp"]
    assert jwt.decode(tokens["id_token"], idp.keys.key).claims["aud"] == "sandbox-proxy"


async def test_login_denied_refuses_the_right_password_once(client, admin):
    await _arm(client, admin, kind="login_denied")  # endpoint defaults to "login"
    page = await client.get(f"{OIDC}/auth", params=auth_params())
    refused = await client.post(form_action(page.text), data={"username": "alice", "password": "alice"})
    assert refused.status_code == 200 and LOGIN_DENIED in refused.text and 'id="kc-form-login"' in refused.text
    accepted = await client.post(form_action(refused.text), data={"username": "alice", "password": "alice"})
    assert "code" in redirect_params(accepted)


async def test_login_denied_at_the_token_endpoint_refuses_the_password_grant(client, admin):
    await _arm(client, admin, endpoint="token", kind="login_denied")
    refused = await _password(client)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert (await _password(client)).status_code == 200


async def test_faults_are_per_realm(client, admin):
    await _arm(client, admin, endpoint="token", kind="status", status=503, times=None)
    assert (await admin_token(client))["Authorization"]  # the master realm's token endpoint is unaffected
    master = await client.post(
        "/admin/realms/master/x-mock/faults", json={"endpoint": "token", "kind": "status", "status": 500}, headers=admin
    )
    assert master.status_code == 201
    refused = await client.post(
        "/realms/master/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"},
    )
    assert refused.status_code == 500


async def test_python_api_arms_and_clears_faults(client, idp):
    fault = idp.add_fault("revoke", "status", status=503, times=None)
    assert idp.faults.armed == [fault]
    assert (await client.post(f"{OIDC}/revoke", auth=PROXY, data={"token": "x"})).status_code == 503
    idp.clear_faults()
    assert (await client.post(f"{OIDC}/revoke", auth=PROXY, data={"token": "x"})).status_code == 200


async def test_faults_fire_when_the_mock_is_mounted_under_a_prefix(realm_dict, state_dir):
    inner = create_app(realm_dict, issuer_base=f"{BASE}/idp", state_dir=state_dir)
    outer = Starlette(routes=[Mount("/idp", app=inner)])
    inner.state.idp.add_fault("discovery", "status", status=503)
    async with browser(outer, BASE) as http:
        assert (await http.get("/idp/realms/sandbox/.well-known/openid-configuration")).status_code == 503
        assert (await http.get("/idp/realms/sandbox/.well-known/openid-configuration")).json()[
            "issuer"
        ] == f"{BASE}/idp/realms/sandbox"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"endpoint": "token", "kind": "explode"}, "kind"),
        ({"endpoint": "nowhere", "kind": "status", "status": 500}, "endpoint"),
        ({"kind": "status", "status": 500}, "endpoint"),
        ({"endpoint": "userinfo", "kind": "wrong_issuer"}, "endpoint"),
        ({"endpoint": "token", "kind": "status"}, "status"),
        ({"endpoint": "token", "kind": "status", "status": 200}, "status"),
        ({"endpoint": "token", "kind": "oauth_error"}, "error"),
        ({"endpoint": "token", "kind": "delay", "delay_seconds": 31}, "delay_seconds"),
        ({"endpoint": "token", "kind": "delay"}, "delay_seconds"),
        ({"endpoint": "token", "kind": "status", "status": 500, "times": 0}, "times"),
        ({"endpoint": "token", "kind": "status", "status": 500, "repeat": 2}, "repeat"),
    ],
)
async def test_bad_fault_specs_name_the_field(client, admin, spec, field):
    response = await client.post(FAULTS, json=spec, headers=admin)
    assert response.status_code == 400 and response.json()["field"] == field, response.text
    assert await _armed(client, admin) == []


def test_every_fault_endpoint_is_a_real_route(app):
    realm_app = next(route.app for route in app.routes if getattr(route, "prefix", None) == "/realms/sandbox")
    paths = {route.path for route in realm_app.routes}
    for name, suffixes in ENDPOINTS.items():
        for suffix in suffixes:
            assert f"/realms/sandbox{suffix}" in paths, name
            assert endpoint_for(f"/realms/sandbox{suffix}", "/realms/sandbox") == name
    assert endpoint_for("/realms/sandbox/clients-registrations/openid-connect/abc", "/realms/sandbox") == "registration"
    assert endpoint_for("/realms/sandbox/protocol/openid-connect/tokenx", "/realms/sandbox") is None
