"""A connected client keeps working across a restart of the sandbox (same state directory)."""

from __future__ import annotations

from fastmcp import Client
from key_value.aio.stores.memory import MemoryStore

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.server import running_sandbox


async def test_registration_and_tokens_survive_a_restart(sandbox_settings, tmp_path):
    settings = sandbox_settings("restart", tmp_path)
    client_storage = MemoryStore()

    with running_sandbox(settings) as first:
        browser = HeadlessBrowser("bob", "bob")
        async with Client(first.mcp_url, auth=HeadlessOAuth(browser, token_storage=client_storage)) as client:
            await client.call_tool("greet", {"name": "before restart"})
        assert browser.pages  # signed in once

    with running_sandbox(settings) as second:
        browser = HeadlessBrowser("bob", "bob")
        auth = HeadlessOAuth(browser, token_storage=client_storage)
        async with Client(second.mcp_url, auth=auth) as client:
            greeting = await client.call_tool("greet", {"name": "after restart"})
    assert "signed in as bob" in greeting.data
    assert browser.pages == []  # the stored registration and tokens were still good
