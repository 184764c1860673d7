"""The plugin's shortest path, as a project that uses nothing but ``mcp_client`` meets it.

``make install`` runs this file once with bytecode writes allowed (see the Makefile), so the
caches every later pytest start reads are there; bench/bench_plugin_startup.py times the same
path from pytest's start to the call's answer.
"""

from __future__ import annotations


async def test_a_first_authenticated_call(mcp_client):
    async with mcp_client("alice") as client:
        result = await client.call_tool("greet", {"name": "first"})
    assert result.data == "Hello, first! You are signed in as alice (roles: mcp-admin, mcp-user)."
