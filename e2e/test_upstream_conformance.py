"""The MCP conformance suite's server scenarios, directly against the "everything" server and
through the proxy with a token from the real OAuth flow: every scenario that passes directly
must pass through the proxy too. (The README's table is this test's output.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastmcp import Client
from key_value.aio.stores.memory import MemoryStore

from sandbox.testing.bearer_hop import BearerHop
from sandbox.testing.conformance import run_server_scenarios
from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.server import RunningSandbox, running_sandbox
from sandbox.testing.upstreams import NodeUpstream, serve_asgi_in_thread


@pytest.fixture(scope="module")
def conformance_sandbox(session_sandbox_settings, node_upstream, tmp_path_factory) -> Iterator[RunningSandbox]:
    settings = session_sandbox_settings(
        "upstream-conformance", tmp_path_factory.mktemp("state"), upstream=node_upstream.url
    )
    with running_sandbox(settings) as running:
        yield running


async def signed_in_token(mcp_url: str) -> str:
    auth = HeadlessOAuth(HeadlessBrowser("alice", "alice"), token_storage=MemoryStore())
    async with Client(mcp_url, auth=auth, mode="legacy") as client:
        await client.ping()
    tokens = await auth.token_storage_adapter.get_tokens()
    assert tokens is not None
    return tokens.access_token


async def test_conformance_through_the_proxy_matches_direct(
    node_upstream: NodeUpstream, conformance_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    direct = run_server_scenarios(node_upstream.url, tmp_path / "direct")
    token = await signed_in_token(conformance_sandbox.mcp_url)
    with serve_asgi_in_thread(BearerHop(conformance_sandbox.base_url, token)) as hop_url:
        proxied = run_server_scenarios(hop_url, tmp_path / "proxied")
    print("\n| Scenario | Direct | Through the proxy |\n|---|---|---|")
    for scenario, passed in direct.items():
        print(f"| `{scenario}` | {'pass' if passed else 'fail'} | {'pass' if proxied.get(scenario) else 'fail'} |")
    assert sum(direct.values()) >= 10  # the suite really ran against a working server
    lost = sorted(name for name, passed in direct.items() if passed and not proxied.get(name))
    assert lost == [], f"pass directly, fail through the proxy: {lost}"
