"""``--mode native-dcr``: the same tools without the proxy, for comparison.

FastMCP's ``RemoteAuthProvider`` only verifies tokens: its protected-resource metadata
names the realm as the authorization server, so MCP clients discover the realm's
metadata, register at its DCR endpoint (anonymous, under the realm's Trusted Hosts
policy) and get their tokens from the IdP itself. This is ``KeycloakAuthProvider``'s
configuration with one difference, explained at ``REQUESTED_SCOPES``.
"""

from __future__ import annotations

from fastmcp.server.auth import RemoteAuthProvider
from fastmcp.server.auth.providers.jwt import JWTVerifier
from pydantic import AnyHttpUrl

from sandbox.backends import Upstream
from sandbox.settings import SandboxSettings

# Tokens must name this MCP server in `aud`; the realm's "mcp-audience" client scope
# carries that mapper. A real Keycloak 26.7 gives a DCR client that registers with a
# `scope` only `basic` by default and the named scopes as optional ones, and MCP clients
# register with the scopes the 401 challenge asks for. So clients are asked for the
# scope up front, while tokens are checked for `openid` and for the audience itself
# (the scope is marked to stay out of the token's `scope` claim, like Keycloak's own
# `roles`). profile and roles are asked for too, so `greet` can name the user.
REQUESTED_SCOPES = ["openid", "profile", "email", "roles", "mcp-audience"]
REQUIRED_SCOPES = ["openid"]


def build_native_provider(settings: SandboxSettings, upstream: Upstream) -> RemoteAuthProvider:
    verifier = JWTVerifier(
        jwks_uri=f"{upstream.realm_url}/protocol/openid-connect/certs",
        issuer=upstream.realm_url,
        algorithm="RS256",
        audience=settings.mcp_url,
        required_scopes=REQUIRED_SCOPES,
    )
    return RemoteAuthProvider(
        token_verifier=verifier,
        authorization_servers=[AnyHttpUrl(upstream.realm_url)],
        base_url=settings.base_url,
        scopes_supported=REQUESTED_SCOPES,
        challenge_scopes=REQUESTED_SCOPES,
    )
