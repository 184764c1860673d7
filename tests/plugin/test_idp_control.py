"""The ``idp`` control API through the plugin's own fixtures (this repository loads the plugin too)."""

from __future__ import annotations

import anyio
import httpx
import pytest

from sandbox.idp_control import IdpControl, IdpControlError, NotSupportedOnKeycloak
from sandbox.pytest_plugin import UnknownSandboxUser


def greeting_for(user: str, roles: str) -> str:
    return f"Hello, idp! You are signed in as {user} (roles: {roles})."


async def greet(mcp_client, user: str, **kwargs) -> str:
    async with mcp_client(user, **kwargs) as client:
        return (await client.call_tool("greet", {"name": "idp"})).data


def clock(idp: IdpControl) -> dict:
    return idp.clock()


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("set_claims", lambda idp: idp.set_claims("alice", team="x")),
        ("set_lifetimes", lambda idp: idp.set_lifetimes(access_token=5)),
        ("advance_clock", lambda idp: idp.advance_clock(60)),
        ("rotate_keys", lambda idp: idp.rotate_keys()),
        ("fault", lambda idp: idp.fault("token", "status", status=503)),
        ("clear_faults", lambda idp: idp.clear_faults()),
    ],
)
def test_mock_only_controls_are_refused_on_keycloak_by_name(operation, call):
    # No server is contacted: the refusal comes before any request.
    keycloak = IdpControl("http://localhost:9/", "sandbox", "keycloak")
    with pytest.raises(NotSupportedOnKeycloak) as refused:
        call(keycloak)
    assert isinstance(refused.value, IdpControlError)
    assert str(refused.value).startswith(f"idp.{operation}() is a mock-only control")
    keycloak.reset()  # nothing to undo; must not raise on Keycloak


def test_sandbox_fixture_exposes_the_stack(sandbox):
    assert sandbox.backend == "mock"
    assert sandbox.mcp_url == f"{sandbox.base_url}/mcp"
    assert sandbox.realm_url == f"{sandbox.base_url}/idp/realms/sandbox"
    assert sandbox.admin_url == f"{sandbox.base_url}/idp/admin/realms/sandbox"
    assert sandbox.users == {"alice": "alice", "bob": "bob"}


async def test_unknown_user_is_a_clear_error(mcp_client):
    with pytest.raises(UnknownSandboxUser, match=r"no user 'zed' in realm 'sandbox'.*known: alice, bob"):
        mcp_client("zed")


async def test_reset_undoes_users_roles_passwords_and_mock_state(sandbox, mcp_client):
    idp = IdpControl(sandbox.idp_server_url, sandbox.realm, "mock", credentials=sandbox.credentials)
    idp.create_user("dave", "dave-pw", roles=["mcp-user"])
    idp.assign_roles("bob", "mcp-admin")
    idp.set_password("bob", "bob-new")
    idp.set_claims("bob", team="red")
    idp.set_lifetimes(access_token=30)
    idp.advance_clock(10)
    assert idp.get_user("bob")["realmRoles"] == ["default-roles-sandbox", "mcp-admin", "mcp-user"]
    assert await greet(mcp_client, "bob") == greeting_for("bob", "mcp-admin, mcp-user")  # the new password
    idp.fault("userinfo", "status", status=500, times=None)

    idp.reset()
    assert idp.get_user("bob")["realmRoles"] == ["default-roles-sandbox", "mcp-user"]
    with pytest.raises(IdpControlError, match="no user 'dave'"):
        idp.get_user("dave")
    assert sandbox.credentials == {"alice": "alice", "bob": "bob"}
    assert idp.faults() == [] and clock(idp)["offset"] == 0
    assert idp.lifetimes()["overridden"] == []
    assert idp.claims("bob") == {}
    assert await greet(mcp_client, "bob", password="bob") == greeting_for("bob", "mcp-user")


async def test_reset_brings_back_a_deleted_realm_user(sandbox, mcp_client):
    idp = IdpControl(sandbox.idp_server_url, sandbox.realm, "mock", credentials=sandbox.credentials)
    idp.assign_roles("bob", "mcp-admin")
    idp.delete_user("bob")
    with pytest.raises(IdpControlError, match="no user 'bob'"):
        idp.get_user("bob")

    idp.reset()
    restored = idp.get_user("bob")
    assert restored["realmRoles"] == ["default-roles-sandbox", "mcp-user"]  # as the realm file has it
    assert (restored["email"], restored["firstName"]) == ("bob@example.com", "Bob")
    assert sandbox.credentials == {"alice": "alice", "bob": "bob"}
    assert await greet(mcp_client, "bob") == greeting_for("bob", "mcp-user")


async def test_fault_handle_removes_itself(idp, mcp_client):
    with idp.fault("token", "status", status=503, times=None) as fault:
        assert fault.armed and fault.kind == "status"
        with pytest.raises(RuntimeError, match="Token exchange with identity provider failed"):
            await greet(mcp_client, "alice")
    assert not fault.armed and fault.remove() is False
    assert await greet(mcp_client, "alice") == greeting_for("alice", "mcp-admin, mcp-user")


def test_bad_fault_spec_quotes_the_mocks_reason(idp):
    with pytest.raises(IdpControlError, match=r"idp.fault\(\) refused by the mock \(HTTP 400\).*kind"):
        idp.fault("token", "explode")


async def test_created_user_signs_in_with_roles_and_claims(idp, mcp_client, sandbox):
    idp.create_user("erin", "erin-pw", roles=["mcp-user"], email="erin@example.com", first_name="Erin")
    idp.set_claims("erin", tenant="acme")
    assert await greet(mcp_client, "erin") == greeting_for("erin", "mcp-user")
    # The claims reach the upstream token the proxy keeps: read them back through the IdP.
    async with httpx.AsyncClient() as http:
        token = (
            await http.post(
                f"{sandbox.realm_url}/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": "sandbox-cli",
                    "username": "erin",
                    "password": "erin-pw",
                    "scope": "openid",
                },
            )
        ).json()
        info = (
            await http.get(
                f"{sandbox.realm_url}/protocol/openid-connect/userinfo",
                headers={"Authorization": f"Bearer {token['access_token']}"},
            )
        ).json()
    assert info["tenant"] == "acme" and info["email"] == "erin@example.com"


async def test_advancing_the_clock_ends_the_idp_session_so_the_client_signs_in_again(idp, mcp_client):
    """Short upstream tokens: the proxy refreshes upstream when its own token (same lifetime)
    expires. With the IdP clock past the session idle timeout, that refresh is refused and
    the client goes through the login form again."""
    idp.set_lifetimes(access_token=2, refresh_token=600)
    async with mcp_client("bob") as client:
        browser = client.transport.auth.browser
        assert browser.pages == ["consent", "login"]
        await client.call_tool("greet", {"name": "idp"})
        idp.advance_clock(3600)  # an hour later at the IdP: the session idled out
        await anyio.sleep(2.5)  # the proxy's token (2 s, like upstream) expires in real time
        browser.pages = []
        assert (await client.call_tool("greet", {"name": "idp"})).data == greeting_for("bob", "mcp-user")
        assert browser.pages == ["consent", "login"]  # a new authorization, login form included


async def test_role_removed_at_run_time_applies_to_the_next_sign_in(idp, mcp_client):
    idp.remove_roles("alice", "mcp-admin")
    assert await greet(mcp_client, "alice") == greeting_for("alice", "mcp-user")


async def test_roles_are_back_after_the_previous_test(mcp_client):
    # The idp fixture of the test before reset alice's roles.
    assert await greet(mcp_client, "alice") == greeting_for("alice", "mcp-admin, mcp-user")
