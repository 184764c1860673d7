"""mcp_client's clients verify TLS with the process's one loaded trust store (sandbox/testing/clients.py).

A FastMCP client left to itself parses the CA bundle for each HTTP client it makes, ~30 ms
of CPU each, on every sign-in of every test.
"""

from __future__ import annotations

import pytest

from sandbox.trust_store import default_trust_store


async def test_a_sign_in_parses_no_ca_bundle(mcp_client, request: pytest.FixtureRequest) -> None:
    async with mcp_client("alice") as client:  # the proxy's own upstream clients are made here
        await client.call_tool("greet", {"name": "warm-up"})
    bundle_loads = request.getfixturevalue("bundle_loads")  # counting from here on
    async with mcp_client("bob") as client:
        result = await client.call_tool("greet", {"name": "trust"})
    assert "signed in as bob" in result.data
    assert bundle_loads == []


def test_the_shared_trust_store_is_the_default_and_verify_given_wins(mcp_client) -> None:
    assert mcp_client("alice").transport.verify is default_trust_store()
    assert mcp_client("alice", verify=False).transport.verify is False
