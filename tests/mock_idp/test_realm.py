"""Realm loading: parity with the file, unknown-field listing, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from joserfc import jwt
from mockidp_support import REALM_PATH, browser, code_tokens

from mock_idp import Realm, RealmError, create_app, load_realm


def test_sandbox_realm_file_is_fully_understood():
    realm = load_realm(REALM_PATH)
    assert isinstance(realm, Realm)
    assert realm.name == "sandbox"
    assert realm.unknown_fields == []


def test_served_users_roles_clients_and_mappers_come_from_the_file():
    raw = json.loads(REALM_PATH.read_text())
    realm = load_realm(REALM_PATH)
    assert set(realm.users) == {u["username"] for u in raw["users"]} == {"alice", "bob"}
    for entry in raw["users"]:
        user = realm.users[entry["username"]]
        assert user.password == entry["credentials"][0]["value"]
        assert (user.email, user.first_name, user.last_name) == (entry["email"], entry["firstName"], entry["lastName"])
        assert user.realm_roles == entry["realmRoles"]
    assert realm.users["alice"].realm_roles == ["default-roles-sandbox", "mcp-user", "mcp-admin"]
    assert realm.users["bob"].realm_roles == ["default-roles-sandbox", "mcp-user"]
    assert set(realm.clients) == {c["clientId"] for c in raw["clients"]}
    proxy = realm.clients["sandbox-proxy"]
    declared = next(c for c in raw["clients"] if c["clientId"] == "sandbox-proxy")
    assert proxy.secret == declared["secret"] and not proxy.public
    assert proxy.redirect_uris == declared["redirectUris"] == ["http://localhost:8000/auth/callback"]
    assert proxy.pkce_method == "S256" and proxy.standard_flow and not proxy.direct_access_grants
    assert [m.config for m in proxy.protocol_mappers] == [m["config"] for m in declared["protocolMappers"]]
    cli = realm.clients["sandbox-cli"]
    assert cli.public and cli.direct_access_grants and cli.redirect_uris == ["http://localhost:*", "http://127.0.0.1:*"]
    assert realm.access_token_lifespan == raw["accessTokenLifespan"]
    assert realm.revoke_refresh_token is True and realm.refresh_token_max_reuse == 0
    policies = {p.provider_id: p for p in realm.registration_policies}
    assert policies["trusted-hosts"].values("trusted-hosts") == ["localhost", "127.0.0.1"]


async def test_tokens_follow_edits_to_the_realm_not_code(realm_dict, tmp_path: Path):
    """Rename a user, change her roles, the audience and the lifetime: the tokens follow."""
    realm_dict["users"][0].update(
        {"username": "carol", "email": "carol@example.org", "firstName": "Carol", "lastName": "Jones"}
    )
    realm_dict["users"][0]["credentials"][0]["value"] = "carol-pw"
    realm_dict["roles"]["realm"].append({"name": "auditor"})
    realm_dict["users"][0]["realmRoles"] = ["auditor"]
    realm_dict["clients"][0]["protocolMappers"][0]["config"]["included.custom.audience"] = "https://api.example.org/mcp"
    realm_dict["accessTokenLifespan"] = 123
    app = create_app(realm_dict, issuer_base="http://localhost:8080", state_dir=tmp_path)
    async with browser(app, "http://localhost:8080") as http:
        tokens = await code_tokens(http, username="carol", password="carol-pw")
    claims = jwt.decode(tokens["access_token"], app.state.idp.keys.key).claims
    assert (
        claims["preferred_username"] == "carol"
        and claims["email"] == "carol@example.org"
        and claims["name"] == "Carol Jones"
    )
    assert "auditor" in claims["realm_access"]["roles"] and "mcp-admin" not in claims["realm_access"]["roles"]
    assert claims["aud"] == "https://api.example.org/mcp"
    assert claims["exp"] - claims["iat"] == 123 == tokens["expires_in"]


def test_unknown_fields_are_listed_with_json_paths(realm_dict):
    realm_dict["bruteForceProtected"] = True
    realm_dict["clients"][0]["bearerOnly"] = False
    realm_dict["clients"][0]["attributes"]["frontchannel.logout"] = "true"
    realm_dict["users"][1]["requiredActions"] = []
    realm_dict["clients"][0]["protocolMappers"].append(
        {"name": "x", "protocolMapper": "oidc-script-mapper", "config": {}}
    )
    unknown = load_realm(realm_dict).unknown_fields
    assert "$.bruteForceProtected" in unknown
    assert "$.clients[0].bearerOnly" in unknown
    assert '$.clients[0].attributes["frontchannel.logout"]' in unknown
    assert "$.users[1].requiredActions" in unknown
    assert any("oidc-script-mapper" in item and "$.clients[0].protocolMappers[1]" in item for item in unknown)


def test_unknown_fields_produce_one_startup_warning(realm_dict, tmp_path, caplog):
    realm_dict["bruteForceProtected"] = True
    realm_dict["smtpServer"] = {}
    with caplog.at_level("WARNING", logger="mock_idp"):
        create_app(realm_dict, issuer_base="http://localhost:8080", state_dir=tmp_path)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "$.bruteForceProtected" in warnings[0] and "$.smtpServer" in warnings[0]


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda r: r["users"][1]["credentials"][0].__setitem__("value", 42),
            "$.users[1].credentials[0].value: Input should be a valid string",
        ),
        (
            lambda r: r["clients"][0].__setitem__("redirectUris", "http://x"),
            "$.clients[0].redirectUris: Input should be a valid list",
        ),
        (lambda r: r.pop("realm"), "$.realm: Field required"),
        (
            lambda r: r["users"][0]["realmRoles"].append("ghost"),
            "$.users[0].realmRoles[3]: role 'ghost' is not declared",
        ),
        (
            lambda r: r["clients"].append(dict(r["clients"][0])),
            "$.clients[3].clientId: duplicate clientId 'sandbox-proxy'",
        ),
        (lambda r: r["clients"][0].pop("secret"), "$.clients[0].secret: a confidential client needs a secret"),
        (
            lambda r: r["clients"][0]["attributes"].__setitem__("pkce.code.challenge.method", "S512"),
            'pkce.code.challenge.method"]: unsupported PKCE method',
        ),
    ],
)
def test_malformed_realm_names_json_path_and_problem(realm_dict, tmp_path, mutate, expected):
    mutate(realm_dict)
    path = tmp_path / "bad-realm.json"
    path.write_text(json.dumps(realm_dict))
    with pytest.raises(RealmError) as error:
        load_realm(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_invalid_json_and_missing_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"realm": "x",\n  "users": [}')
    with pytest.raises(RealmError, match=r"broken.json: invalid JSON at line 2 column 13"):
        load_realm(path)
    with pytest.raises(RealmError, match=r"nope.json: cannot read realm file: No such file or directory"):
        load_realm(tmp_path / "nope.json")
    path.write_text("[1, 2]")
    with pytest.raises(RealmError, match=r"\$: expected a JSON object"):
        load_realm(path)


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        (
            {"issuer_base": "http://localhost:8080", "state_directory": "x"},
            r"unexpected keyword argument\(s\) \['state_directory'\]",
        ),
        ({"state_dir": "x"}, "missing keyword issuer_base"),
    ],
)
def test_a_misspelt_or_missing_setting_is_an_error_not_a_default(settings: dict[str, str], error: str) -> None:
    with pytest.raises(TypeError, match=error):
        create_app(REALM_PATH, **settings)  # type: ignore[arg-type]
