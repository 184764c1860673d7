"""The IdP's admin API and the mock's x-mock controls need an admin's token.

Keycloak's Admin REST API requires a bearer token of a realm admin (RFC 6750 §3.1: 401
without one); the mock's x-mock controls (time, keys, faults) sit behind the same check,
since whoever can move the clock or rotate keys can forge the flow.
"""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("token", [None, "not-a-token"], ids=["no token", "garbage token"])
async def test_admin_api_without_a_valid_token_is_refused(sandbox, token):
    """Keycloak Admin REST API: 401 without an admin bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient() as http:
        users = await http.get(f"{sandbox.admin_url}/users", headers=headers)
        created = await http.post(
            f"{sandbox.admin_url}/users", json={"username": "mallory", "enabled": True}, headers=headers
        )
    assert (users.status_code, created.status_code) == (401, 401)


@pytest.mark.mock_only
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "x-mock/clock/advance", {"seconds": 3600}),
        ("POST", "x-mock/keys/rotate", {}),
        ("POST", "x-mock/faults", {"endpoint": "token", "kind": "status", "status": 503}),
        ("GET", "x-mock/faults", None),
    ],
)
async def test_x_mock_controls_without_a_token_are_refused(sandbox, method, path, body):
    """The mock-only controls answer 401 without an admin token, like the Admin API."""
    async with httpx.AsyncClient() as http:
        response = await http.request(method, f"{sandbox.admin_url}/{path}", json=body)
    assert response.status_code == 401
