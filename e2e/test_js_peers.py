"""JavaScript peers, offline: the MCP TypeScript SDK completes CIMD (and DCR) flows, and the MCP
conformance suite's authorization-server scenarios pass against the sandbox."""

from __future__ import annotations

import httpx

from e2e.js_peers import conformance_authorization, ts_sdk_client
from e2e.test_cimd import document, sandbox_ca
from sandbox.testing.cimd import hosted_client_metadata
from sandbox.testing.server import free_port

TS_REDIRECT = "http://127.0.0.1:53683/callback"


async def test_the_typescript_sdk_completes_the_flow_with_a_url_client_id(sandbox, headless_browser):
    with hosted_client_metadata(
        sandbox_ca(sandbox), document(client_name="CIMD e2e client (TypeScript SDK)", redirect_uris=[TS_REDIRECT])
    ) as hosted:
        outcome = await ts_sdk_client(sandbox.mcp_url, TS_REDIRECT, headless_browser("bob"), metadata_url=hosted.url)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["greeting"] == "Hello, TypeScript! You are signed in as bob (roles: mcp-user)."
    assert outcome["client_id"] == hosted.url
    assert hosted.fetches


async def test_the_typescript_sdk_registers_with_dcr_without_a_document(sandbox, headless_browser):
    outcome = await ts_sdk_client(sandbox.mcp_url, TS_REDIRECT, headless_browser("alice"))
    assert "error" not in outcome, outcome.get("error")
    assert "signed in as alice" in outcome["greeting"]
    assert not outcome["client_id"].startswith("https://")


def register(sandbox, redirect_uri: str) -> str:
    answer = httpx.post(
        f"{sandbox.base_url}/register",
        json={
            "client_name": "MCP conformance suite",
            "redirect_uris": [redirect_uri],
            "application_type": "native",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["client_id"]


async def test_the_conformance_suite_s_authorization_scenarios_pass(sandbox, headless_browser):
    port = free_port()
    client_id = register(sandbox, f"http://127.0.0.1:{port}/callback")
    results, output = await conformance_authorization(
        sandbox.base_url, client_id=client_id, port=port, resource=sandbox.mcp_url, browser=headless_browser("alice")
    )
    assert results == {"authorization-server-metadata-endpoint": True, "authorization-code-grant": True}, output
    assert "Total: 0 passed" not in output and ", 0 failed" in output.splitlines()[-1], output
