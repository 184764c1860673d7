"""Enterprise-managed authorization (SEP-990), headless: the agent trades alice's ID token at the
realm for an ID-JAG (RFC 8693), presents it at the sandbox's /token (RFC 7523 jwt-bearer) and
calls greet, with no browser. Mock-only: Keycloak 26.7 issues no ID-JAG."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.auth import BearerAuth

from e2e.test_proxy_faults import idp  # noqa: F401  (the mock's control API, reset after each test)
from sandbox.testing.options import sandbox_backend
from sandbox.testing.stack import SandboxStack

AGENT = ("sandbox-agent", "sandbox-agent-secret")
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture(autouse=True, scope="module")
def mock_only(request: pytest.FixtureRequest) -> None:
    if sandbox_backend(request.config) != "mock":
        pytest.skip("mock-only: Keycloak 26.7 has no token exchange that issues an ID-JAG (see README)")


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def header(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def id_token(sandbox: SandboxStack, user: str = "alice") -> str:
    """The agent's own sign-in at the enterprise IdP (here: a password grant, no browser)."""
    answer = httpx.post(
        f"{sandbox.sandbox.upstream.realm_url}/protocol/openid-connect/token",
        data={"grant_type": "password", "username": user, "password": user, "scope": "openid"},
        auth=AGENT,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["id_token"]


def id_jag(sandbox: SandboxStack, subject_token: str, *, audience: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{sandbox.sandbox.upstream.realm_url}/protocol/openid-connect/token",
        data={
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": subject_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
            "audience": audience or sandbox.base_url,
            "resource": sandbox.mcp_url,
            "scope": "openid",
        },
        auth=AGENT,
    )


def present(sandbox: SandboxStack, assertion: str) -> httpx.Response:
    return httpx.post(
        f"{sandbox.base_url}/token",
        data={"grant_type": JWT_BEARER, "assertion": assertion, "client_id": AGENT[0], "resource": sandbox.mcp_url},
    )


async def test_an_id_jag_from_the_realm_buys_a_token_for_greet_without_a_browser(sandbox):
    exchanged = id_jag(sandbox, id_token(sandbox))
    assert exchanged.status_code == 200, exchanged.text
    body = exchanged.json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:id-jag" and body["token_type"] == "N_A"
    assertion = body["access_token"]
    assert header(assertion)["typ"] == "oauth-id-jag+jwt"
    grant = claims(assertion)
    assert grant["aud"] == sandbox.base_url and grant["resource"] == sandbox.mcp_url and grant["client_id"] == AGENT[0]

    token = present(sandbox, assertion)
    assert token.status_code == 200, token.text
    assert "refresh_token" not in token.json()  # SEP-990: the agent re-exchanges instead
    access = token.json()["access_token"]
    assert claims(access)["sub"] == grant["sub"] and claims(access)["iss"] == sandbox.base_url
    async with Client(sandbox.mcp_url, auth=BearerAuth(access)) as client:
        greeting = await client.call_tool("greet", {"name": "agent"})
    assert f"signed in as {grant['sub']}" in greeting.data


async def test_a_replayed_assertion_is_refused(sandbox):
    assertion = id_jag(sandbox, id_token(sandbox)).json()["access_token"]
    assert present(sandbox, assertion).status_code == 200
    replayed = present(sandbox, assertion)
    assert replayed.status_code in (400, 401) and replayed.json()["error"] == "invalid_grant"


async def test_an_assertion_for_another_authorization_server_is_refused(sandbox):
    assertion = id_jag(sandbox, id_token(sandbox), audience="https://elsewhere.example").json()["access_token"]
    refused = present(sandbox, assertion)
    assert refused.status_code in (400, 401) and refused.json()["error"] == "invalid_grant"


async def test_an_expired_assertion_is_refused(sandbox, idp):  # noqa: F811 (the fixture imported above)
    subject = id_token(sandbox)
    idp.advance_clock(-400)  # the IdP signs as if 400 s ago: its 300 s assertion is long over
    assertion = id_jag(sandbox, subject).json()["access_token"]
    refused = present(sandbox, assertion)
    assert refused.status_code in (400, 401) and refused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "change, error",
    [
        ({"requested_token_type": "urn:ietf:params:oauth:token-type:access_token"}, "invalid_request"),
        ({"subject_token": "not-a-token"}, "invalid_token"),
        ({"audience": ""}, "invalid_request"),
    ],
)
async def test_the_realm_refuses_a_bad_exchange_with_an_oauth_error(sandbox, change, error):
    data = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": id_token(sandbox),
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
        "audience": sandbox.base_url,
        "resource": sandbox.mcp_url,
        **change,
    }
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{sandbox.sandbox.upstream.realm_url}/protocol/openid-connect/token", data=data, auth=AGENT
        )
    assert answer.status_code == 400 and answer.json()["error"] == error


async def test_a_client_without_token_exchange_enabled_is_refused(sandbox):
    subject = id_token(sandbox)
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{sandbox.sandbox.upstream.realm_url}/protocol/openid-connect/token",
            data={
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": subject,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                "audience": sandbox.base_url,
                "resource": sandbox.mcp_url,
            },
            auth=("sandbox-proxy", "sandbox-proxy-secret"),
        )
    assert answer.status_code == 400 and answer.json()["error"] == "unauthorized_client"
