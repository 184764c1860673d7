"""The Admin REST API subset: auth, Keycloak's shapes and errors, persistence of edits."""

from __future__ import annotations

import httpx
import pytest
from joserfc import jwt
from mockidp_support import BASE, OIDC, PROXY, admin_token, browser, code_tokens, login

from mock_idp import RealmError, create_app

USERS = "/admin/realms/sandbox/users"


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> dict[str, str]:
    return await admin_token(client)


async def _user_id(client: httpx.AsyncClient, admin: dict[str, str], username: str) -> str:
    found = (await client.get(USERS, params={"username": username, "exact": "true"}, headers=admin)).json()
    assert len(found) == 1, found
    return found[0]["id"]


async def _create(client: httpx.AsyncClient, admin: dict[str, str], **rep: object) -> str:
    response = await client.post(USERS, json=rep, headers=admin)
    assert response.status_code == 201, response.text
    return response.headers["location"].rsplit("/", 1)[1]


# -- the master realm -----------------------------------------------------------------


async def test_master_realm_is_served_like_any_realm(client, app):
    meta = (await client.get("/realms/master/.well-known/openid-configuration")).json()
    assert meta["issuer"] == f"{BASE}/realms/master"
    token = (await admin_token(client))["Authorization"].split()[1]
    claims = jwt.decode(token, app.state.realms["master"].keys.key).claims
    assert (
        claims["iss"] == f"{BASE}/realms/master"
        and claims["azp"] == "admin-cli"
        and "admin" in claims["realm_access"]["roles"]
    )


async def test_bootstrap_admin_is_configurable(realm_dict, state_dir):
    app = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir, admin_username="root", admin_password="s3cret")
    async with browser(app, BASE) as http:
        headers = await admin_token(http, "root", "s3cret")
        assert (await http.get(USERS, headers=headers)).status_code == 200
        refused = await http.post(
            "/realms/master/protocol/openid-connect/token",
            data={"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"},
        )
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_a_realm_file_named_master_is_refused(realm_dict, state_dir):
    with pytest.raises(RealmError, match="master"):
        # (no users: theirs name default-roles-sandbox, which a realm called master would lack)
        create_app({**realm_dict, "realm": "master", "users": []}, issuer_base=BASE, state_dir=state_dir)


# -- who may call -----------------------------------------------------------------------


async def test_no_token_is_401(client):
    response = await client.get(USERS)
    assert response.status_code == 401 and response.json() == {"error": "HTTP 401 Unauthorized"}
    garbage = await client.get(USERS, headers={"Authorization": "Bearer not.a.token"})
    assert garbage.status_code == 401


async def test_a_sandbox_realm_token_is_403(client):
    tokens = await code_tokens(client)
    response = await client.get(USERS, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 403 and response.json() == {"error": "HTTP 403 Forbidden"}


async def test_a_master_user_without_the_admin_role_is_403(client, admin):
    await client.post(
        "/admin/realms/master/users",
        json={"username": "viewer", "credentials": [{"type": "password", "value": "v"}]},
        headers=admin,
    )
    viewer = await admin_token(client, "viewer", "v")
    assert (await client.get(USERS, headers=viewer)).status_code == 403


async def test_an_expired_admin_token_is_401(client, admin, idp):
    idp.advance_clock(61)  # master access tokens live 60 s, as in Keycloak
    assert (await client.get(USERS, headers=admin)).status_code == 401


async def test_unknown_realm_is_404(client, admin):
    response = await client.get("/admin/realms/nope/users", headers=admin)
    assert response.status_code == 404 and response.json() == {"error": "Realm not found."}


# -- users ------------------------------------------------------------------------------


async def test_user_representation_has_keycloaks_shape(client, admin):
    alice = await _user_id(client, admin, "alice")
    rep = (await client.get(f"{USERS}/{alice}", headers=admin)).json()
    assert rep["username"] == "alice" and rep["email"] == "alice@example.com" and rep["emailVerified"] is True
    assert rep["enabled"] is True and rep["requiredActions"] == [] and rep["access"]["manage"] is True
    assert {"id", "createdTimestamp", "firstName", "lastName", "totp", "notBefore"} <= rep.keys()
    brief = (await client.get(USERS, params={"briefRepresentation": "true"}, headers=admin)).json()
    assert all("access" not in user for user in brief)


async def test_search_paging_and_count(client, admin):
    for name in ("carol", "caroline", "dave"):
        await _create(client, admin, username=name, email=f"{name}@example.org")
    names = lambda response: [u["username"] for u in response.json()]  # noqa: E731
    assert names(await client.get(USERS, params={"username": "carol"}, headers=admin)) == ["carol", "caroline"]
    assert names(await client.get(USERS, params={"username": "carol", "exact": "true"}, headers=admin)) == ["carol"]
    assert names(await client.get(USERS, params={"search": "example.org"}, headers=admin)) == [
        "carol",
        "caroline",
        "dave",
    ]
    assert names(await client.get(USERS, params={"first": "1", "max": "2"}, headers=admin)) == ["bob", "carol"]
    assert (await client.get(f"{USERS}/count", headers=admin)).json() == 5
    assert (await client.get(f"{USERS}/count", params={"search": "carol"}, headers=admin)).json() == 2
    assert (await client.get(USERS, params={"max": "many"}, headers=admin)).status_code == 400


async def test_create_answers_201_with_location_under_issuer_base(client, admin):
    response = await client.post(USERS, json={"username": "Erin"}, headers=admin)
    assert response.status_code == 201 and response.content == b""
    location = response.headers["location"]
    assert location.startswith(f"{BASE}/admin/realms/sandbox/users/")
    rep = (await client.get(location.removeprefix(BASE), headers=admin)).json()
    assert rep["username"] == "erin"  # Keycloak lower-cases usernames


@pytest.mark.parametrize(
    ("rep", "status", "body"),
    [
        ({"username": "alice"}, 409, {"errorMessage": "User exists with same username"}),
        ({"username": "x", "email": "ALICE@example.com"}, 409, {"errorMessage": "User exists with same email"}),
        ({"email": "no-name@example.com"}, 400, {"errorMessage": "User name is missing"}),
    ],
)
async def test_create_conflicts_and_missing_fields(client, admin, rep, status, body):
    response = await client.post(USERS, json=rep, headers=admin)
    assert (response.status_code, response.json()) == (status, body)


async def test_bad_bodies_are_400(client, admin):
    malformed = await client.post(USERS, content=b"{nope", headers={**admin, "Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error_description"] == "Malformed JSON request body"
    wrong_type = await client.post(USERS, json={"username": "f", "enabled": "sometimes"}, headers=admin)
    assert wrong_type.status_code == 400 and wrong_type.json()["field"] == "enabled"
    alice = await _user_id(client, admin, "alice")
    rename = await client.put(f"{USERS}/{alice}", json={"username": "alicia"}, headers=admin)
    assert rename.status_code == 400 and rename.json()["errorMessage"] == "error-user-attribute-read-only"
    empty = await client.put(f"{USERS}/{alice}/reset-password", json={"type": "password", "value": ""}, headers=admin)
    assert empty.status_code == 400 and empty.json()["field"] == "value"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", ""), ("PUT", ""), ("DELETE", ""), ("PUT", "/reset-password"), ("GET", "/role-mappings/realm")],
)
async def test_unknown_user_is_404(client, admin, method, path):
    response = await client.request(
        method,
        f"{USERS}/no-such-id{path}",
        json={"type": "password", "value": "x"} if method == "PUT" else None,
        headers=admin,
    )
    assert response.status_code == 404 and response.json() == {"error": "User not found"}


async def test_disabling_a_user_stops_login(client, admin):
    bob = await _user_id(client, admin, "bob")
    assert (await client.put(f"{USERS}/{bob}", json={"enabled": False}, headers=admin)).status_code == 204
    assert (await client.get(f"{USERS}/{bob}", headers=admin)).json()["enabled"] is False
    password = await client.post(
        f"{OIDC}/token",
        data={"grant_type": "password", "client_id": "sandbox-cli", "username": "bob", "password": "bob"},
    )
    assert password.status_code == 400  # Keycloak 26.7: invalid_grant is 400


async def test_deleting_a_user_ends_their_sessions(client, admin):
    tokens = await code_tokens(client)
    alice = await _user_id(client, admin, "alice")
    assert (await client.delete(f"{USERS}/{alice}", headers=admin)).status_code == 204
    refresh = await client.post(
        f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 400
    intro = await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": tokens["access_token"]})
    assert intro.json() == {"active": False}


# -- roles --------------------------------------------------------------------------------


async def test_realm_roles_include_keycloaks_builtins(client, admin):
    names = {r["name"] for r in (await client.get("/admin/realms/sandbox/roles", headers=admin)).json()}
    assert names == {"mcp-user", "mcp-admin", "default-roles-sandbox", "offline_access", "uma_authorization"}
    missing = await client.get("/admin/realms/sandbox/roles/nope", headers=admin)
    assert missing.status_code == 404 and missing.json() == {"error": "Could not find role"}


async def test_create_role_and_conflict(client, admin):
    created = await client.post(
        "/admin/realms/sandbox/roles", json={"name": "auditor", "description": "d"}, headers=admin
    )
    assert created.status_code == 201 and created.headers["location"].endswith("/roles/auditor")
    role = (await client.get("/admin/realms/sandbox/roles/auditor", headers=admin)).json()
    assert role["description"] == "d" and role["clientRole"] is False and role["composite"] is False
    again = await client.post("/admin/realms/sandbox/roles", json={"name": "auditor"}, headers=admin)
    assert again.status_code == 409 and again.json() == {"errorMessage": "Role with name auditor already exists"}


async def test_role_mappings_shape_and_effect_on_tokens(client, admin):
    bob = await _user_id(client, admin, "bob")
    mcp_admin = (await client.get("/admin/realms/sandbox/roles/mcp-admin", headers=admin)).json()
    mapped = await client.post(f"{USERS}/{bob}/role-mappings/realm", json=[mcp_admin], headers=admin)
    assert mapped.status_code == 204
    mappings = (await client.get(f"{USERS}/{bob}/role-mappings", headers=admin)).json()
    # Imported users hold exactly the file's roles (as a real Keycloak 26 imports them).
    assert {r["name"] for r in mappings["realmMappings"]} == {"default-roles-sandbox", "mcp-user", "mcp-admin"}
    effective = (await client.get(f"{USERS}/{bob}/role-mappings/realm/composite", headers=admin)).json()
    assert {r["name"] for r in effective} == {
        "default-roles-sandbox",
        "mcp-user",
        "mcp-admin",
        "offline_access",
        "uma_authorization",
    }
    tokens = await code_tokens(client, username="bob")
    # The ID token: the proxy is its audience (not the access token's, so Keycloak would say inactive).
    intro = (await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": tokens["id_token"]})).json()
    assert "mcp-admin" in intro["realm_access"]["roles"]
    removed = await client.request("DELETE", f"{USERS}/{bob}/role-mappings/realm", json=[mcp_admin], headers=admin)
    assert removed.status_code == 204
    assert "mcp-admin" not in {
        r["name"] for r in (await client.get(f"{USERS}/{bob}/role-mappings/realm", headers=admin)).json()
    }


async def test_role_mapping_needs_name_and_matching_id_like_keycloak(client, admin):
    bob = await _user_id(client, admin, "bob")
    for payload in ([{"name": "mcp-admin"}], [{"name": "nope", "id": "x"}]):
        response = await client.post(f"{USERS}/{bob}/role-mappings/realm", json=payload, headers=admin)
        assert response.status_code == 404 and response.json() == {"error": "Role not found"}
    not_a_list = await client.post(f"{USERS}/{bob}/role-mappings/realm", json={"name": "mcp-admin"}, headers=admin)
    assert not_a_list.status_code == 400


async def test_clients_by_client_id(client, admin):
    found = (
        await client.get("/admin/realms/sandbox/clients", params={"clientId": "sandbox-proxy"}, headers=admin)
    ).json()
    assert len(found) == 1 and found[0]["clientId"] == "sandbox-proxy" and found[0]["secret"] == "sandbox-proxy-secret"
    assert (await client.get("/admin/realms/sandbox/clients", params={"clientId": "nope"}, headers=admin)).json() == []
    everything = (await client.get("/admin/realms/master/clients", headers=admin)).json()
    assert [c["clientId"] for c in everything] == ["admin-cli"] and everything[0]["publicClient"] is True


# -- persistence ----------------------------------------------------------------------------


async def test_admin_edits_survive_a_restart(realm_dict, state_dir):
    first = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    async with browser(first, BASE) as http:
        headers = await admin_token(http)
        carol = await _create(http, headers, username="carol", credentials=[{"type": "password", "value": "carol"}])
        await http.post("/admin/realms/sandbox/roles", json={"name": "auditor"}, headers=headers)
        bob = await _user_id(http, headers, "bob")
        await http.delete(f"{USERS}/{bob}", headers=headers)
        alice = await _user_id(http, headers, "alice")
        await http.put(
            f"{USERS}/{alice}/reset-password", json={"value": "changed", "temporary": False}, headers=headers
        )
    restarted = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    async with browser(restarted, BASE) as http:
        headers = await admin_token(http)
        assert [u["username"] for u in (await http.get(USERS, headers=headers)).json()] == ["alice", "carol"]
        assert (await http.get(f"{USERS}/{carol}", headers=headers)).status_code == 200
        assert (await http.get("/admin/realms/sandbox/roles/auditor", headers=headers)).status_code == 200
        assert "code" in await login(http, "alice", "changed")


async def test_users_created_later_get_the_default_role(client, admin):
    carol = await _create(client, admin, username="carol", enabled=True)
    mappings = (await client.get(f"{USERS}/{carol}/role-mappings/realm", headers=admin)).json()
    assert [r["name"] for r in mappings] == ["default-roles-sandbox"]
    effective = (await client.get(f"{USERS}/{carol}/role-mappings/realm/composite", headers=admin)).json()
    assert {"default-roles-sandbox", "offline_access", "uma_authorization"} <= {r["name"] for r in effective}
