"""Step-up authorization: admin_report needs the scope mcp:admin, which the first authorization
does not ask for; a real client gets 403 insufficient_scope, authorizes again asking for what it
had plus that scope, and retries. The user's role is checked after that, by the tool."""

from __future__ import annotations

import httpx
import httpx2
from fastmcp import Client as FastMCPClient
from key_value.aio.stores.memory import MemoryStore
from mcp import Client as SDKClient
from mcp.client.streamable_http import streamable_http_client

from e2e.test_headless_clients import InMemoryTokenStorage, sdk_auth
from sandbox.testing.headless import HeadlessOAuth

CALL_ADMIN_REPORT = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "tools/call",
    "params": {"name": "admin_report", "arguments": {}},
}


async def clear_trace(sandbox) -> None:
    async with httpx.AsyncClient() as http:
        await http.delete(f"{sandbox.base_url}/sandbox/trace")


async def trace_steps(sandbox) -> list[dict]:
    async with httpx.AsyncClient() as http:
        flows = (await http.get(f"{sandbox.base_url}/sandbox/trace.json")).json()["flows"]
    return [step for flow in flows for step in flow["steps"]]


async def first_token(sandbox, browser) -> InMemoryTokenStorage:
    storage = InMemoryTokenStorage()
    async with (
        httpx2.AsyncClient(auth=sdk_auth(sandbox.mcp_url, browser, storage), timeout=30) as http,
        SDKClient(streamable_http_client(sandbox.mcp_url, http_client=http)) as client,
    ):
        await client.call_tool("greet", {"name": "first"})
    return storage


async def test_the_challenge_names_only_the_missing_scope(sandbox, headless_browser):
    storage = await first_token(sandbox, headless_browser("alice"))
    assert "mcp:admin" not in storage.tokens.scope.split()  # the first authorization did not ask
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            sandbox.mcp_url,
            json=CALL_ADMIN_REPORT,
            headers={
                "authorization": f"Bearer {storage.tokens.access_token}",
                "accept": "application/json, text/event-stream",
            },
        )
    assert answer.status_code == 403
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope", scope="mcp:admin", ')
    assert f'resource_metadata="{sandbox.base_url}/.well-known/oauth-protected-resource/mcp"' in challenge


async def test_the_mcp_sdk_steps_up_and_keeps_its_earlier_scopes(sandbox, headless_browser):
    storage = InMemoryTokenStorage()
    browser = headless_browser("alice")
    async with (
        httpx2.AsyncClient(auth=sdk_auth(sandbox.mcp_url, browser, storage), timeout=30) as http,
        SDKClient(streamable_http_client(sandbox.mcp_url, http_client=http)) as client,
    ):
        await client.call_tool("greet", {"name": "before"})
        before = set(storage.tokens.scope.split())
        report = await client.call_tool("admin_report", {})
        after = set(storage.tokens.scope.split())
        again = await client.call_tool("greet", {"name": "after"})
    assert not report.is_error, report.content[0].text
    assert report.content[0].text.startswith("Admin report for alice")
    assert before < after and after - before == {"mcp:admin"}  # accumulated, nothing dropped
    assert "signed in as alice" in again.content[0].text
    # The re-authorization went through the browser again, for consent: the IdP's session held.
    assert "login" not in browser.pages


async def test_with_the_scope_but_without_the_role_bob_gets_a_tool_error_naming_the_role(sandbox, headless_browser):
    storage = InMemoryTokenStorage()
    async with (
        httpx2.AsyncClient(auth=sdk_auth(sandbox.mcp_url, headless_browser("bob"), storage), timeout=30) as http,
        SDKClient(streamable_http_client(sandbox.mcp_url, http_client=http)) as client,
    ):
        report = await client.call_tool("admin_report", {})
    assert "mcp:admin" in storage.tokens.scope.split()  # the step-up happened
    assert report.is_error
    assert report.content[0].text == "the mcp-admin role is required: bob has the scope mcp:admin but not the role"


async def test_a_fastmcp_client_asking_for_the_scope_up_front_needs_no_step_up(sandbox, headless_browser):
    await clear_trace(sandbox)
    auth = HeadlessOAuth(headless_browser("alice", scopes=["mcp:admin"]), token_storage=MemoryStore())
    async with FastMCPClient(sandbox.mcp_url, auth=auth) as client:
        report = await client.call_tool("admin_report", {})
    assert report.data.startswith("Admin report for alice")
    kinds = [step["kind"] for step in await trace_steps(sandbox)]
    assert "step_up" not in kinds and kinds.count("authorize") == 1


async def test_the_trace_explains_the_step_up(sandbox, headless_browser):
    await clear_trace(sandbox)
    storage = InMemoryTokenStorage()
    async with (
        httpx2.AsyncClient(auth=sdk_auth(sandbox.mcp_url, headless_browser("alice"), storage), timeout=30) as http,
        SDKClient(streamable_http_client(sandbox.mcp_url, http_client=http)) as client,
    ):
        await client.call_tool("admin_report", {})
    steps = await trace_steps(sandbox)
    step_up = next(step for step in steps if step["kind"] == "step_up")
    assert step_up["status"] == 403 and 'scope="mcp:admin"' in step_up["note"]
    assert "RFC 6750 §3.1" in step_up["rfc"]
    # After it, a second authorization asked for the accumulated scopes.
    later = [step for step in steps if step["kind"] == "authorize" and step["seq"] > step_up["seq"]]
    assert later and set(later[0]["params"]["scope"].split()) >= {"openid", "mcp:admin"}
