"""python-keycloak's KeycloakAdmin (a client nobody here wrote) against a real server of the mock,
mounted under /idp as the sandbox mounts it."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from keycloak import KeycloakAdmin, KeycloakGetError, KeycloakOpenID, KeycloakPostError
from mockidp_support import REALM_PATH, form_action
from starlette.applications import Starlette
from starlette.routing import Mount

from mock_idp import create_app
from sandbox.testing.headless import BrowserCookieJar


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The mock under ``/idp`` on a free loopback port; yields the server URL python-keycloak wants."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base = f"http://localhost:{port}/idp"
    outer = Starlette(
        routes=[Mount("/idp", app=create_app(REALM_PATH, issuer_base=base, state_dir=tmp_path / "state"))]
    )
    uvi = uvicorn.Server(uvicorn.Config(outer, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uvi.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uvi.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield base + "/"
    finally:
        uvi.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _admin(server_url: str) -> KeycloakAdmin:
    return KeycloakAdmin(
        server_url=server_url,
        username="admin",
        password="admin",
        realm_name="sandbox",
        user_realm_name="master",
        client_id="admin-cli",
    )


def _password_login(server_url: str, username: str, password: str) -> dict:
    return KeycloakOpenID(server_url=server_url, realm_name="sandbox", client_id="sandbox-cli").token(
        username, password
    )


def _form_login(server_url: str, username: str, password: str) -> httpx.Response:
    params = {
        "client_id": "sandbox-cli",
        "redirect_uri": "http://localhost:5000/cb",
        "response_type": "code",
        "scope": "openid",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    with httpx.Client(cookies=BrowserCookieJar()) as browser:
        page = browser.get(f"{server_url}realms/sandbox/protocol/openid-connect/auth", params=params)
        return browser.post(form_action(page.text), data={"username": username, "password": password})


def test_user_lifecycle_through_keycloak_admin(server: str):
    admin = _admin(server)
    created = admin.create_user(
        {
            "username": "Carol",
            "email": "carol@example.com",
            "firstName": "Carol",
            "enabled": True,
            "credentials": [{"type": "password", "value": "carol-pw", "temporary": False}],
        }
    )
    assert admin.get_user_id("carol") == created
    assert {u["username"] for u in admin.get_users()} == {"alice", "bob", "carol"}
    assert admin.get_users({"email": "carol@"})[0]["id"] == created
    assert admin.users_count() == 3

    # As in Keycloak 26: an update writes the whole profile (the first name it leaves out is
    # gone) and drops attributes the user profile does not declare.
    admin.update_user(created, {"lastName": "Danvers", "email": "carol@example.com", "attributes": {"team": ["blue"]}})
    user = admin.get_user(created)
    assert user["lastName"] == "Danvers" and "firstName" not in user and "attributes" not in user
    admin.update_user(created, {"firstName": "Carol", "lastName": "Danvers", "email": "carol@example.com"})

    role_name = admin.create_realm_role({"name": "mcp-auditor", "description": "reads audit logs"})
    assert role_name == "mcp-auditor"
    auditor = admin.get_realm_role("mcp-auditor")
    admin.assign_realm_roles(created, [auditor, admin.get_realm_role("mcp-user")])
    assert {r["name"] for r in admin.get_realm_roles_of_user(created)} == {
        "default-roles-sandbox",
        "mcp-auditor",
        "mcp-user",
    }

    tokens = _password_login(server, "carol", "carol-pw")
    claims = KeycloakOpenID(server_url=server, realm_name="sandbox", client_id="sandbox-cli").decode_token(
        tokens["access_token"]
    )
    assert {"mcp-auditor", "mcp-user"} <= set(claims["realm_access"]["roles"])
    assert claims["iss"] == f"{server}realms/sandbox"

    admin.delete_realm_roles_of_user(created, [auditor])
    assert {r["name"] for r in admin.get_realm_roles_of_user(created)} == {"default-roles-sandbox", "mcp-user"}

    admin.delete_user(created)
    assert admin.get_user_id("carol") is None
    with pytest.raises(KeycloakGetError) as missing:
        admin.get_user(created)
    assert missing.value.response_code == 404


def test_password_reset_changes_what_logs_in(server: str):
    admin = _admin(server)
    bob = admin.get_user_id("bob")
    assert _form_login(server, "bob", "bob").status_code == 302
    admin.set_user_password(bob, "new-secret", temporary=False)
    assert _form_login(server, "bob", "bob").status_code == 200  # the form again, with an error
    assert _form_login(server, "bob", "new-secret").status_code == 302
    assert _password_login(server, "bob", "new-secret")["access_token"]


def test_temporary_password_blocks_the_password_grant(server: str):
    admin = _admin(server)
    admin.set_user_password(admin.get_user_id("bob"), "temp-pw")  # python-keycloak's default: temporary
    assert admin.get_user(admin.get_user_id("bob"))["requiredActions"] == ["UPDATE_PASSWORD"]
    with pytest.raises(Exception) as refused:
        _password_login(server, "bob", "temp-pw")
    assert b"Account is not fully set up" in refused.value.response_body


def test_duplicate_user_is_a_409_with_keycloaks_message(server: str):
    with pytest.raises(KeycloakPostError) as conflict:
        _admin(server).create_user({"username": "alice"})
    assert conflict.value.response_code == 409
    assert b'"errorMessage":"User exists with same username"' in conflict.value.response_body


def test_wrong_admin_password_is_refused(server: str):
    with pytest.raises(Exception) as refused:
        KeycloakAdmin(
            server_url=server,
            username="admin",
            password="nope",
            realm_name="sandbox",
            user_realm_name="master",
            client_id="admin-cli",
        ).get_users()
    assert getattr(refused.value, "response_code", None) == 400


def test_temporary_password_asks_for_a_new_one_at_the_login_form(server: str):
    admin = _admin(server)
    bob = admin.get_user_id("bob")
    admin.set_user_password(bob, "temp-pw")  # temporary, python-keycloak's default
    params = {
        "client_id": "sandbox-cli",
        "redirect_uri": "http://localhost:5000/cb",
        "response_type": "code",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    with httpx.Client(cookies=BrowserCookieJar()) as browser:
        page = browser.get(f"{server}realms/sandbox/protocol/openid-connect/auth", params=params)
        redirect = browser.post(form_action(page.text), data={"username": "bob", "password": "temp-pw"})
        # As Keycloak does: a redirect to the required action, which shows the form.
        assert redirect.status_code == 302 and "/login-actions/required-action?" in redirect.headers["location"]
        update = browser.get(redirect.headers["location"])
        assert update.status_code == 200 and 'id="kc-passwd-update-form"' in update.text
        action = re.search(r'id="kc-passwd-update-form" action="([^"]+)"', update.text).group(1).replace("&amp;", "&")
        mismatch = browser.post(action, data={"password-new": "a", "password-confirm": "b"})
        assert "Passwords don&#x27;t match." in mismatch.text
        done = browser.post(action, data={"password-new": "final-pw", "password-confirm": "final-pw"})
    assert done.status_code == 302 and "code=" in done.headers["location"]
    assert admin.get_user(bob)["requiredActions"] == []
    assert _password_login(server, "bob", "final-pw")["access_token"]
