"""``--mode native-dcr``: the same tools without the proxy, for comparison.

FastMCP's ``KeycloakAuthProvider`` (a ``RemoteAuthProvider``) only verifies tokens: its
protected-resource metadata names the realm as the authorization server, so MCP clients
discover the realm's metadata, register at its DCR endpoint (anonymous, under the realm's
Trusted Hosts policy) and get their tokens from the IdP itself.
"""

from __future__ import annotations

from fastmcp.server.auth.providers.keycloak import KeycloakAuthProvider

from sandbox.backends import Upstream
from sandbox.settings import SandboxSettings


def build_native_provider(settings: SandboxSettings, upstream: Upstream) -> KeycloakAuthProvider:
    # Tokens must name this MCP server: the realm's default "mcp-audience" client scope
    # puts the MCP URL into the aud of every client's tokens, DCR-registered ones too.
    return KeycloakAuthProvider(realm_url=upstream.realm_url, base_url=settings.base_url, audience=settings.mcp_url)
