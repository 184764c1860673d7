"""Each FastMCP 4.2.3 proxy defect that sandbox/upstream/server.py works around, pinned.

Every test here asserts the defect is still there: once FastMCP fixes one, its test fails,
and the workaround it names should be deleted.
"""

from __future__ import annotations

import inspect

import mcp_types
import pytest
from fastmcp import Client, FastMCP
from fastmcp.server.providers.proxy import FastMCPProxy, ProxyClient
from mcp.shared.exceptions import MCPError


def server_with_completion() -> FastMCP:
    mcp = FastMCP("completes")

    @mcp.prompt
    def pick(colour: str) -> str:
        return colour

    @mcp.completion
    def complete(ref: object, argument: mcp_types.CompletionArgument, context: object) -> list[str]:
        return ["red", "green"]

    return mcp


async def test_proxy_does_not_relay_completions() -> None:
    """Workaround: relay_completions."""
    backend = server_with_completion()
    async with Client(backend) as direct:
        assert (
            await direct.complete(
                mcp_types.PromptReference(type="ref/prompt", name="pick"), {"name": "colour", "value": ""}
            )
        ).values
    proxy = FastMCPProxy(client_factory=ProxyClient(backend).new)
    async with Client(proxy) as client:
        with pytest.raises(MCPError, match="Method not found"):
            await client.complete(
                mcp_types.PromptReference(type="ref/prompt", name="pick"), {"name": "colour", "value": ""}
            )


def test_proxy_client_forwards_incoming_headers_by_default() -> None:
    """Workaround: IdentityHttpClients ignores the headers FastMCP offers (Authorization among them)."""
    assert ProxyClient("http://localhost:1/mcp")._transport_options.forward_incoming_headers is True


def test_proxy_hides_upstream_failures_by_default() -> None:
    """Workaround: provider_error_strategy="raise"."""
    assert inspect.signature(FastMCPProxy.__init__).parameters["provider_error_strategy"].default == "warn"


def test_each_proxy_client_has_its_own_context_slot() -> None:
    """Workaround: stdio clients share the base client's slot (a kept-alive session keeps its first callbacks)."""
    base = ProxyClient("http://localhost:1/mcp")
    assert base.new()._proxy_rc_ref is not base.new()._proxy_rc_ref
