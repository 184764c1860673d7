"""The landing page tells a newcomer where to connect, who can log in, and how to configure clients."""

import httpx

from sandbox.testing.forms import parse_page


async def test_landing_page_shows_url_backend_users_and_client_configs(sandbox):
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{sandbox.base_url}/")
    assert response.status_code == 200
    html = response.text
    assert {"mcp-url", "backend", "users"} <= parse_page(html).ids
    assert f'<code id="mcp-url">{sandbox.mcp_url}</code>' in html
    assert f'<td id="backend">{sandbox.settings.backend}</td>' in html
    assert '<td id="mode">proxy</td>' in html and "<th>Upstream client</th>" in html
    for username in ("alice", "bob"):
        assert f"<td>{username}</td><td><code>{username}</code></td>" in html
    assert f"claude mcp add --transport http sandbox {sandbox.mcp_url}" in html
    assert "&quot;url&quot;: &quot;" + sandbox.mcp_url in html  # VS Code mcp.json
    _, secret = sandbox.sandbox.realm.upstream_client(sandbox.settings.upstream_client_id)
    assert secret not in html


async def test_healthz_reports_the_backend(sandbox):
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"{sandbox.base_url}/healthz")).json()
    assert health == {"status": "ok", "backend": sandbox.settings.backend, "mcp": sandbox.mcp_url}


async def test_landing_page_says_which_registration_each_known_client_uses(sandbox):
    async with httpx.AsyncClient() as http:
        html = (await http.get(f"{sandbox.base_url}/")).text
    assert "registration" in parse_page(html).ids
    for client in (
        "FastMCP <code>Client</code>",
        "MCP Python SDK",
        "MCP TypeScript SDK",
        "Claude Code, VS Code, MCP Inspector",
    ):
        assert f"<tr><th>{client}</th>" in html
    assert "client_metadata_url=" in html and "clientMetadataUrl" in html
    assert "<th>Step-up</th>" in html and "<code>mcp:admin</code>" in html
