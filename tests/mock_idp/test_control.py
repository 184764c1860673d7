"""The mock-only x-mock controls: extra claims, lifetimes, clock, key rotation; each through
the JSON API (as the sandbox's client uses it) and, where simpler, the IdP's Python methods."""

from __future__ import annotations

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from mockidp_support import BASE, OIDC, PROXY, admin_token, code_tokens, login, redeem

from mock_idp import create_app
from mock_idp.errors import SpecError

X = "/admin/realms/sandbox/x-mock"


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> dict[str, str]:
    return await admin_token(client)


def _claims(token: str, idp) -> dict:
    return jwt.decode(token, idp.keys.key).claims


async def _alice_id(idp) -> str:
    return idp.realm.user_id(idp.realm.users["alice"])


async def _introspect(client: httpx.AsyncClient, token: str) -> dict:
    return (await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": token})).json()


async def _userinfo(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {token}"})


# -- per-user extra claims ------------------------------------------------------------------


async def test_extra_claims_reach_access_and_id_tokens_userinfo_and_introspection(client, admin, idp):
    alice = await _alice_id(idp)
    put = await client.put(
        f"{X}/users/{alice}/claims",
        json={"claims": {"tenant": "acme", "groups": ["a", "b"], "email": "other@example.com"}},
        headers=admin,
    )
    assert put.status_code == 200 and put.json()["claims"]["tenant"] == "acme"
    tokens = await code_tokens(client)
    access, id_token = _claims(tokens["access_token"], idp), _claims(tokens["id_token"], idp)
    for claims in (access, id_token):
        assert claims["tenant"] == "acme" and claims["groups"] == ["a", "b"] and claims["email"] == "other@example.com"
    assert (await _userinfo(client, tokens["access_token"])).json()["tenant"] == "acme"
    assert (await _introspect(client, tokens["id_token"]))["tenant"] == "acme"  # the proxy is its audience
    # Bob is untouched (signing in from a browser of his own: prompt=login re-authenticates alice, as in Keycloak).
    client.cookies.clear()
    assert "tenant" not in _claims((await code_tokens(client, username="bob"))["access_token"], idp)

    assert (await client.delete(f"{X}/users/{alice}/claims", headers=admin)).status_code == 204
    assert (await client.get(f"{X}/users/{alice}/claims", headers=admin)).json() == {"claims": {}}
    assert "tenant" not in _claims((await code_tokens(client))["access_token"], idp)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"claims": {"iss": "x"}}, "claims.iss"),
        ({"claims": ["a"]}, "claims"),
        ({}, "claims"),
        ({"claims": {}, "extra": 1}, "extra"),
    ],
)
async def test_bad_claims_name_the_field(client, admin, idp, body, field):
    response = await client.put(f"{X}/users/{await _alice_id(idp)}/claims", json=body, headers=admin)
    assert response.status_code == 400 and response.json()["field"] == field


async def test_claims_for_unknown_user_is_404(client, admin):
    response = await client.put(f"{X}/users/nobody/claims", json={"claims": {}}, headers=admin)
    assert response.status_code == 404 and response.json() == {"error": "User not found"}


# -- lifetimes ------------------------------------------------------------------------------------


async def test_lifetimes_change_expires_in_and_reset(client, admin, idp, still_clock):
    assert (await client.get(f"{X}/lifetimes", headers=admin)).json() == {
        "access_token": 300,
        "refresh_token": 1800,
        "code": 60,
        "overridden": [],
    }
    put = await client.put(f"{X}/lifetimes", json={"access_token": 30, "refresh_token": 90}, headers=admin)
    assert put.json() == {
        "access_token": 30,
        "refresh_token": 90,
        "code": 60,
        "overridden": ["access_token", "refresh_token"],
    }
    tokens = await code_tokens(client)
    assert tokens["expires_in"] == 30 and tokens["refresh_expires_in"] == 90
    access = _claims(tokens["access_token"], idp)
    assert access["exp"] - access["iat"] == 30
    idp.advance_clock(31)
    assert (await _introspect(client, tokens["access_token"]))["active"] is False
    assert (await client.delete(f"{X}/lifetimes", headers=admin)).status_code == 204
    idp.reset_clock()
    assert (await code_tokens(client))["expires_in"] == 300


async def test_code_lifetime_expires_codes(client, idp):
    idp.set_lifetimes(code=5)
    code = (await login(client))["code"]
    idp.advance_clock(6)
    response = await redeem(client, code)
    assert response.json()["error_description"] == "Code is expired"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"access_token": 0}, "access_token"),
        ({"code": "60"}, "code"),
        ({"refresh_token": 1.5}, "refresh_token"),
        ({"id_token": 60}, "id_token"),
    ],
)
async def test_bad_lifetimes_name_the_field(client, admin, body, field):
    response = await client.put(f"{X}/lifetimes", json=body, headers=admin)
    assert response.status_code == 400 and response.json()["field"] == field


async def test_lifetime_overrides_persist(realm_dict, state_dir):
    create_app(realm_dict, issuer_base=BASE, state_dir=state_dir).state.idp.set_lifetimes(access_token=42)
    assert create_app(realm_dict, issuer_base=BASE, state_dir=state_dir).state.idp.lifetimes["access_token"] == 42


# -- clock ------------------------------------------------------------------------------------------


async def test_advancing_the_clock_expires_access_tokens_and_reset_brings_them_back(client, admin):
    tokens = await code_tokens(client)
    clock = (await client.get(f"{X}/clock", headers=admin)).json()
    assert clock["offset"] == 0
    advanced = await client.post(f"{X}/clock/advance", json={"seconds": 301}, headers=admin)
    assert (
        advanced.status_code == 200
        and advanced.json()["offset"] == 301
        and advanced.json()["now"] >= clock["now"] + 301
    )
    admin = await admin_token(client)  # the admin token expired too: one clock for every realm
    assert (await _introspect(client, tokens["id_token"])) == {"active": False}
    info = await _userinfo(client, tokens["access_token"])
    assert info.status_code == 401 and 'error="invalid_token"' in info.headers["www-authenticate"]
    assert (await client.delete(f"{X}/clock", headers=admin)).status_code == 204
    assert (await _introspect(client, tokens["id_token"]))["active"] is True
    assert (await _userinfo(client, tokens["access_token"])).status_code == 200


@pytest.mark.parametrize("seconds", ["10", None, True, 1e12])
async def test_bad_clock_steps_are_400(client, admin, seconds):
    response = await client.post(f"{X}/clock/advance", json={"seconds": seconds}, headers=admin)
    assert response.status_code == 400 and response.json()["field"] == "seconds"


# -- key rotation -------------------------------------------------------------------------------------


async def _jwks(client: httpx.AsyncClient) -> KeySet:
    return KeySet.import_key_set((await client.get(f"{OIDC}/certs")).json())


def _verifies(token: str, keys: KeySet) -> bool:
    try:
        jwt.decode(token, keys, algorithms=["RS256"])
    except (JoseError, ValueError):
        return False
    return True


async def test_rotation_with_grace_keeps_the_old_key_until_the_grace_ends(client, admin, idp):
    old = await code_tokens(client)
    old_kid = idp.keys.kid
    rotated = await client.post(f"{X}/keys/rotate", json={"keep_old": True, "grace_seconds": 120}, headers=admin)
    body = rotated.json()
    assert rotated.status_code == 200 and body["previous"] == old_kid and body["kid"] == idp.keys.kid != old_kid
    assert [entry["kid"] for entry in body["retired"]] == [old_kid]
    jwks = await _jwks(client)
    assert {key["kid"] for key in (await client.get(f"{OIDC}/certs")).json()["keys"]} == {old_kid, body["kid"]}
    assert _verifies(old["access_token"], jwks)
    assert (await _userinfo(client, old["access_token"])).status_code == 200
    new = await code_tokens(client)
    assert jwt.decode(new["access_token"], jwks).header["kid"] == body["kid"]

    idp.advance_clock(121)  # the old token itself is still unexpired (300 s)
    assert [key["kid"] for key in (await client.get(f"{OIDC}/certs")).json()["keys"]] == [body["kid"]]
    assert not _verifies(old["access_token"], await _jwks(client))


async def test_rotation_without_keep_drops_the_old_key_at_once(client, admin, idp):
    old = await code_tokens(client)
    await client.post(f"{X}/keys/rotate", json={"keep_old": False}, headers=admin)
    assert not _verifies(old["access_token"], await _jwks(client))
    assert (await _userinfo(client, old["access_token"])).status_code == 401
    assert (await _introspect(client, old["access_token"])) == {"active": False}
    assert (await client.get(f"{X}/keys", headers=admin)).json() == {"active": idp.keys.kid, "retired": []}


async def test_rotated_keys_persist_with_their_grace(realm_dict, state_dir):
    first = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir).state.idp
    old_kid = first.keys.kid
    new_kid = first.rotate_keys(grace_seconds=600)
    again = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir).state.idp
    assert again.keys.kid == new_kid and set(again.keys.verification_keys()) == {new_kid, old_kid}


@pytest.mark.parametrize(
    ("body", "field"),
    [({"keep_old": "yes"}, "keep_old"), ({"grace_seconds": -1}, "grace_seconds"), ({"grace": 5}, "grace")],
)
async def test_bad_rotation_specs_name_the_field(client, admin, body, field):
    response = await client.post(f"{X}/keys/rotate", json=body, headers=admin)
    assert response.status_code == 400 and response.json()["field"] == field


def test_python_methods_validate_like_the_api(idp):
    with pytest.raises(SpecError) as bad:
        idp.set_lifetimes(access_token=-5)
    assert bad.value.field == "access_token"
    with pytest.raises(KeyError):
        idp.set_user_claims("no-such-user", {"a": 1})


async def test_unknown_x_mock_path_is_a_clear_json_404(client, admin):
    response = await client.get(f"{X}/time-travel", headers=admin)
    assert (
        response.status_code == 404
        and response.json()["error"] == "not_found"
        and "x-mock/time-travel" in response.json()["error_description"]
    )
    assert (await client.get(f"{X}/time-travel")).status_code == 401
