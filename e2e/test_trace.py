"""The flow trace records a real flow hop by hop, one flow per authorization, in both modes, and shows no secret."""

from __future__ import annotations

import asyncio
import json

import httpx
import httpx2
import pytest
from e2e_trace_support import (
    NATIVE_AUTH_KINDS,
    PROXY_AUTH_KINDS,
    EventReader,
    auth_kinds,
    traced_sandbox,
    upstream_tokens,
)
from fastmcp import Client as FastMCPClient
from key_value.aio.stores.memory import MemoryStore
from mcp import Client as SDKClient
from mcp.client.streamable_http import streamable_http_client
from test_headless_clients import InMemoryTokenStorage, sdk_auth

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.options import sandbox_backend

MODES = ["proxy", "native-dcr"]


@pytest.fixture(scope="module", params=MODES)
def traced(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if sandbox_backend(request.config) != "mock":
        pytest.skip("the trace suite drives the in-process mock IdP")
    with traced_sandbox(tmp_path_factory.mktemp(f"trace-{request.param}"), request.param) as running:
        yield running


def flow_of(trace: dict, client_id: str) -> dict:
    matches = [flow for flow in trace["flows"] if flow["client_id"] == client_id]
    assert len(matches) == 1, f"client {client_id}: {len(matches)} flows"
    return matches[0]


async def test_full_flow_is_recorded_in_order_and_masked(traced):
    running, realm = traced
    mode = running.settings.mode
    async with httpx.AsyncClient(base_url=running.base_url) as http:
        await http.delete("/sandbox/trace")
    storage = InMemoryTokenStorage()
    browser = HeadlessBrowser("alice", realm.passwords["alice"])
    async with EventReader(running.base_url) as events:
        auth = sdk_auth(running.mcp_url, browser, storage)
        async with (
            httpx2.AsyncClient(auth=auth, timeout=30) as http2,
            SDKClient(streamable_http_client(running.mcp_url, http_client=http2)) as client,
        ):
            result = await client.call_tool("greet", {"name": "trace"})
        assert "signed in as alice" in result.content[0].text
        client_id, issued = storage.client_info.client_id, storage.tokens
        # Refresh and revoke at whichever server issued the tokens.
        token_url = (
            f"{running.base_url}/token"
            if mode == "proxy"
            else f"{running.sandbox.upstream.realm_url}/protocol/openid-connect/token"
        )
        revoke_url = (
            f"{running.base_url}/revoke"
            if mode == "proxy"
            else f"{running.sandbox.upstream.realm_url}/protocol/openid-connect/revoke"
        )
        async with httpx.AsyncClient() as http:
            refreshed = await http.post(
                token_url,
                data={"grant_type": "refresh_token", "refresh_token": issued.refresh_token, "client_id": client_id},
            )
            assert refreshed.status_code == 200, refreshed.text
            refreshed_tokens = refreshed.json()
            # Read before the revocation, which ends the grant and with it the proxy's copy.
            upstream = await upstream_tokens(running, issued.access_token) if mode == "proxy" else []
            # A public client revokes with its client_id alone (RFC 7009 §2.1).
            revoked = await http.post(
                revoke_url, data={"token": refreshed_tokens["refresh_token"], "client_id": client_id}
            )
            assert revoked.status_code == 200, revoked.text

    async with httpx.AsyncClient(base_url=running.base_url) as http:
        trace = (await http.get("/sandbox/trace.json")).json()
        flow = flow_of(trace, client_id)
        one = (await http.get(f"/sandbox/trace/{flow['id']}.json")).json()
        mermaid = (await http.get(f"/sandbox/trace/{flow['id']}.mmd")).text
        page = (await http.get("/sandbox/trace")).text

    assert len(trace["flows"]) == 1, [f["kinds"] for f in trace["flows"]]
    steps = flow["steps"]
    expected = PROXY_AUTH_KINDS if mode == "proxy" else NATIVE_AUTH_KINDS
    refresh = (
        ["refresh", "upstream_refresh", "revocation", "upstream_revocation"]
        if mode == "proxy"
        else ["refresh", "revocation"]
    )
    assert auth_kinds(steps) == expected + refresh
    assert flow["user"] == "alice"
    calls = [step for step in steps if step["kind"] == "mcp_call"]
    assert any(step["note"] == "tools/call greet" for step in calls)
    assert all(step["status"] == 200 for step in calls)
    assert [step["seq"] for step in steps] == sorted(step["seq"] for step in steps)
    by_kind = {step["kind"]: step for step in steps}

    # The hops carry what the issue asks for.
    assert 'resource_metadata="' in by_kind["unauthorized"]["response"]["headers"]["www-authenticate"]
    assert by_kind["unauthorized"]["rfc"] == "RFC 9728 §5.1"
    assert by_kind["registration"]["response"]["body"]["client_id"] == client_id
    issued_jwt = by_kind["token_issued"]["jwts"][0]
    audience = issued_jwt["claims"]["aud"]
    # The proxy's token names the MCP server alone; the IdP's own (native DCR) adds Keycloak's "account".
    assert issued_jwt["signature"] == "(cut)" and running.mcp_url in (
        audience if isinstance(audience, list) else [audience]
    )
    if mode == "proxy":
        authorize = by_kind["authorize"]["params"]
        assert authorize["code_challenge_method"] == "S256" and authorize["resource"] == running.mcp_url
        upstream_redirect = by_kind["upstream_redirect"]["params"]
        assert (
            upstream_redirect["client_id"] == "sandbox-proxy"
            and upstream_redirect["code_challenge"] != authorize["code_challenge"]
        )
        assert (
            by_kind["consent_shown"]["params"]["txn_id"] == upstream_redirect["state"]
        )  # the transaction id is the upstream state
        assert by_kind["upstream_token_exchange"]["leg"] == "proxy↔IdP"
        assert by_kind["upstream_token_exchange"]["params"]["code_verifier"].startswith("••••")
        assert issued_jwt["claims"]["iss"].rstrip("/") == running.base_url
    else:
        assert by_kind["registration"]["leg"] == "client↔IdP" and by_kind["token_exchange"]["leg"] == "client↔IdP"
        assert by_kind["idp_authorize"]["params"]["client_id"] == client_id
        assert issued_jwt["claims"]["iss"] == running.sandbox.upstream.realm_url
        assert "upstream_token_exchange" not in by_kind and "consent_shown" not in by_kind

    # Live: the event stream carried every step of the flow.
    streamed = {
        event["step"]["seq"] for event in events.events if event.get("step") and event["step"]["flow_id"] == flow["id"]
    }
    assert streamed == {step["seq"] for step in steps}

    # Masked: no secret of the realm file, no full token, anywhere the trace shows itself.
    tokens = [
        issued.access_token,
        issued.refresh_token,
        refreshed_tokens["access_token"],
        refreshed_tokens["refresh_token"],
        *upstream,
    ]
    if getattr(issued, "id_token", None):
        tokens.append(issued.id_token)
    outputs = {
        "trace.json": json.dumps(trace),
        "flow.json": json.dumps(one),
        "mermaid": mermaid,
        "page": page,
        "events": "\n".join(events.text),
    }
    for name, text in outputs.items():
        for secret in realm.secrets:
            assert secret not in text, f"realm secret in {name}"
        for token in tokens:
            assert token not in text, f"a full token in {name}"
    assert len(realm.secrets) == 4 and len(tokens) >= 4  # two client secrets, two passwords


async def test_two_concurrent_users_make_two_flows(traced):
    running, realm = traced
    async with httpx.AsyncClient(base_url=running.base_url) as http:
        await http.delete("/sandbox/trace")

    async def sign_in(user: str) -> str:
        auth = HeadlessOAuth(HeadlessBrowser(user, realm.passwords[user]), token_storage=MemoryStore())
        async with FastMCPClient(running.mcp_url, auth=auth) as client:
            greeting = await client.call_tool("greet", {"name": user})
        assert f"signed in as {user}" in greeting.data
        return (await auth.token_storage_adapter.get_client_info()).client_id

    client_ids = await asyncio.gather(sign_in("alice"), sign_in("bob"))
    async with httpx.AsyncClient(base_url=running.base_url) as http:
        trace = (await http.get("/sandbox/trace.json")).json()
    assert len(trace["flows"]) == 2
    expected = PROXY_AUTH_KINDS if running.settings.mode == "proxy" else NATIVE_AUTH_KINDS
    for client_id, user in zip(client_ids, ("alice", "bob"), strict=False):
        flow = flow_of(trace, client_id)
        assert flow["user"] == user
        assert auth_kinds(flow["steps"]) == expected


async def test_unknown_flow_is_a_404_and_history_is_bounded(traced):
    running, _ = traced
    async with httpx.AsyncClient(base_url=running.base_url) as http:
        missing = await http.get("/sandbox/trace/no-such-flow.json")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        assert (await http.get("/sandbox/trace/no-such-flow.mmd")).status_code == 404
        for _ in range(running.settings.trace_history + 5):
            # A new connection each time: each 401 is a new client starting an authorization.
            response = await http.post(
                "/mcp", json={"jsonrpc": "2.0", "method": "ping", "id": 1}, headers={"Connection": "close"}
            )
            assert response.status_code == 401
        flows = (await http.get("/sandbox/trace.json")).json()["flows"]
    assert len(flows) == running.settings.trace_history
