"""The sandbox's client OAuth (sandbox/testing/token_in_hand.py): a call with a valid token in
hand skips the MCP SDK's flow; every answer the flow acts on still reaches it, and no request
goes out twice."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import httpx2
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from key_value.aio.stores.memory import MemoryStore
from mcp.client.auth import OAuthClientProvider

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth


class Wire:
    """The requests a client sent, as (method, path, JSON-RPC method or None), and the flow runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[tuple[str, str, str | None]] = []
        self.flow_runs = 0
        sdk_flow = OAuthClientProvider._auth_flow

        def counted(provider: OAuthClientProvider, request: httpx2.Request) -> Any:
            self.flow_runs += 1
            return sdk_flow(provider, request)

        monkeypatch.setattr(OAuthClientProvider, "_auth_flow", counted)

    def client(self, mcp_url: str, auth: HeadlessOAuth) -> Client[StreamableHttpTransport]:
        async def note(request: httpx2.Request) -> None:
            body = request.content if request.method == "POST" else b""
            rpc = json.loads(body).get("method") if body.startswith(b"{") else None
            self.sent.append((request.method, request.url.path, rpc))

        def factory(**kwargs: Any) -> httpx2.AsyncClient:
            return httpx2.AsyncClient(event_hooks={"request": [note]}, **kwargs)

        return Client(StreamableHttpTransport(mcp_url, auth=auth, httpx_client_factory=factory))

    def tool_calls(self) -> int:
        return sum(rpc == "tools/call" for _, _, rpc in self.sent)


def headless(headless_browser: Any, user: str = "alice") -> tuple[HeadlessBrowser, HeadlessOAuth]:
    browser = headless_browser(user)
    return browser, HeadlessOAuth(browser, token_storage=MemoryStore())


async def test_a_call_with_a_valid_token_in_hand_skips_the_sdk_flow(sandbox, headless_browser, monkeypatch):
    wire = Wire(monkeypatch)
    _, auth = headless(headless_browser)
    async with wire.client(sandbox.mcp_url, auth) as client:
        await client.call_tool("greet", {"name": "first"})  # signs in: the SDK's flow runs
        assert wire.flow_runs > 0
        runs, sent = wire.flow_runs, len(wire.sent)
        results = [await client.call_tool("greet", {"name": f"call {n}"}) for n in range(3)]
    assert all("signed in as alice" in result.data for result in results)
    assert wire.flow_runs == runs
    assert wire.tool_calls() == 4 and len(wire.sent) == sent + 3  # each call sent once, nothing else


async def test_a_revoked_token_is_handed_to_the_sdk_flow_which_signs_in_again(sandbox, headless_browser, monkeypatch):
    wire = Wire(monkeypatch)
    browser, auth = headless(headless_browser)
    async with wire.client(sandbox.mcp_url, auth) as client:
        for n in range(3):  # so the proxy answers the token from memory (sandbox/accepted_tokens.py)
            await client.call_tool("greet", {"name": f"call {n}"})
        revoked = auth.context.current_tokens.access_token
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{sandbox.base_url}/revoke", data={"client_id": auth.context.client_info.client_id, "token": revoked}
            )
        assert answer.status_code == 200, answer.text
        browser.pages, wire.sent, runs = [], [], wire.flow_runs
        result = await client.call_tool("greet", {"name": "after"})
    assert "signed in as alice" in result.data
    assert auth.context.current_tokens.access_token != revoked
    assert wire.flow_runs == runs + 1 and browser.pages  # the SDK's flow, through the browser
    # The refused call went out once with the revoked token (its 401 handed to the flow), then
    # once with the new one: never twice with the same token.
    assert wire.tool_calls() == 2
    assert [path for method, path, _ in wire.sent if method == "POST"][-1] == "/mcp"


async def test_an_expired_token_is_refreshed_by_the_sdk_flow(short_lived_sandbox, headless_browser, monkeypatch):
    wire = Wire(monkeypatch)
    browser, auth = headless(headless_browser, "bob")
    async with wire.client(short_lived_sandbox.mcp_url, auth) as client:
        await client.call_tool("greet", {"name": "before"})
        first = auth.context.current_tokens.access_token
        await asyncio.sleep(3)  # past the two-second lifetime
        browser.pages, wire.sent = [], []
        result = await client.call_tool("greet", {"name": "after"})
    assert "signed in as bob" in result.data
    assert auth.context.current_tokens.access_token != first
    assert browser.pages == []  # a refresh grant, not a sign-in
    assert wire.tool_calls() == 1  # not sent with the expired token first
    assert any(path.endswith("/token") for _, path, _ in wire.sent)


async def test_a_step_up_challenge_reaches_the_sdk_flow(sandbox, headless_browser, monkeypatch):
    wire = Wire(monkeypatch)
    _, auth = headless(headless_browser)
    async with wire.client(sandbox.mcp_url, auth) as client:
        await client.call_tool("greet", {"name": "first"})
        assert "mcp:admin" not in auth.context.current_tokens.scope.split()
        wire.sent = []
        report = await client.call_tool("admin_report", {})
    assert report.data.startswith("Admin report for alice")
    assert "mcp:admin" in auth.context.current_tokens.scope.split()
    assert wire.tool_calls() == 2  # refused with 403 once, then sent with the wider token
