"""DNS rebinding: a page on a name the attacker points at 127.0.0.1 must reach nothing.

MCP spec, Transports (Streamable HTTP, Security Warning): servers MUST validate the
Origin header and SHOULD bind to localhost only; the conformance suite's
``dns-rebinding-protection`` scenario sends a foreign Host and expects a 4xx.
Each test sends a valid token (or would-be admin call) so only the Host/Origin check
can be what refuses it.
"""

from __future__ import annotations

import httpx
import pytest
from proxy_attacks import call_mcp, register

EVIL_HOST = "evil.example"
EVIL_ORIGIN = "http://evil.example"


@pytest.fixture
async def token(sandbox) -> str:
    client = await register(sandbox)
    return (await client.tokens())["access_token"]


async def test_valid_token_with_the_sandbox_host_is_served(sandbox, token):
    """The control: the same request with the sandbox's own Host and Origin gets 200."""
    port = sandbox.running.settings.port
    assert (await call_mcp(sandbox, token)).status_code == 200
    assert (
        await call_mcp(sandbox, token, Host=f"127.0.0.1:{port}", Origin=f"http://127.0.0.1:{port}")
    ).status_code == 200
    assert (await call_mcp(sandbox, token, Origin=sandbox.base_url)).status_code == 200


async def test_foreign_host_with_a_valid_token_gets_421_at_mcp(sandbox, token):
    """MCP Transports security warning / GHSA-w48q-cv73-mx4w: a rebinding Host is refused (421)."""
    response = await call_mcp(sandbox, token, Host=EVIL_HOST)
    assert response.status_code == 421
    assert response.json()["error"] == "misdirected_request"


async def test_foreign_origin_with_a_valid_token_gets_403_at_mcp(sandbox, token):
    """MCP Transports: servers MUST validate Origin; a foreign one gets 403."""
    response = await call_mcp(sandbox, token, Origin=EVIL_ORIGIN)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden_origin"


async def test_loopback_on_another_port_is_a_foreign_origin(sandbox, token):
    """Same-origin means scheme, host and port (RFC 6454 §4): another local web app is foreign."""
    port = sandbox.running.settings.port
    assert (await call_mcp(sandbox, token, Host=f"localhost:{port + 1}")).status_code == 421
    assert (await call_mcp(sandbox, token, Origin=f"http://localhost:{port + 1}")).status_code == 403
    assert (await call_mcp(sandbox, token, Origin="null")).status_code == 403


@pytest.mark.parametrize("path", ["/sandbox/trace.json", "/", "/register", "/.well-known/oauth-authorization-server"])
async def test_foreign_host_reaches_no_route_of_the_sandbox(sandbox, path):
    """The whole app is guarded, not only /mcp: the trace shows token prefixes and flows."""
    async with httpx.AsyncClient() as http:
        host = await http.get(f"{sandbox.base_url}{path}", headers={"Host": EVIL_HOST})
        origin = await http.get(f"{sandbox.base_url}{path}", headers={"Origin": EVIL_ORIGIN})
    assert (host.status_code, origin.status_code) == (421, 403)


@pytest.mark.mock_only
@pytest.mark.parametrize(
    ("path", "unguarded"),
    [
        ("/admin/realms/sandbox/users", 401),
        ("/admin/realms/sandbox/x-mock/faults", 401),
        ("/realms/sandbox/.well-known/openid-configuration", 200),
    ],
)
async def test_foreign_host_reaches_no_route_of_the_embedded_idp(sandbox, path, unguarded):
    """The embedded IdP's admin API and x-mock controls sit behind the same guard."""
    url = f"{sandbox.idp_server_url.rstrip('/')}{path}"
    async with httpx.AsyncClient() as http:
        control = await http.get(url)
        host = await http.get(url, headers={"Host": EVIL_HOST})
        origin = await http.get(url, headers={"Origin": EVIL_ORIGIN})
    assert control.status_code == unguarded
    assert (host.status_code, origin.status_code) == (421, 403)
