"""Enterprise-managed authorization (SEP-990): the realm as the enterprise IdP.

An agent that already holds the user's ID token from the realm trades it there (RFC 8693
token exchange, mock_idp/token_exchange.py) for an ID-JAG naming this sandbox's issuer as
``aud``, then presents it at the proxy's ``/token`` with the RFC 7523 jwt-bearer grant: no
browser, no consent screen. FastMCP's ``identity_assertion`` validates it (signature against
the realm's JWKS, ``typ``, ``aud``, ``resource``, ``client_id``, lifetime, ``jti`` replay) and
issues a short-lived token of its own, without a refresh token.

SEP-990 clients are provisioned at the MCP authorization server, not registered on the fly:
the realm's ``sandbox-agent`` is provisioned at the proxy at start-up, under the same id (the
mock IdP puts its own client id into the ID-JAG's ``client_id``).
"""

from __future__ import annotations

from fastmcp.server.auth import OAuthProvider
from fastmcp.server.auth.identity_assertion import JWT_BEARER_GRANT_TYPE, IdentityAssertion
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import AnyUrl

from sandbox.backends import Upstream

ENTERPRISE_CLIENT_ID = "sandbox-agent"


def identity_assertion(upstream: Upstream) -> IdentityAssertion:
    """Trust ID-JAGs the realm signs; the token the proxy issues must carry ``openid``."""
    jwks_uri = (upstream.discovery or {}).get("jwks_uri")
    return IdentityAssertion(
        trusted_issuers=[upstream.realm_url],
        # Known up front for the in-process mock; discovered from the realm otherwise.
        jwks_uris={upstream.realm_url: jwks_uri} if jwks_uri else None,
        required_scopes=["openid"],
    )


async def provision_enterprise_client(proxy: OAuthProvider) -> None:
    """The agent as a client of the proxy: public, jwt-bearer grant only, no redirects used."""
    await proxy.register_client(
        OAuthClientInformationFull(
            client_id=ENTERPRISE_CLIENT_ID,
            client_name="MCP OAuth sandbox enterprise agent (ID-JAG)",
            redirect_uris=[AnyUrl("http://127.0.0.1/unused")],
            grant_types=[JWT_BEARER_GRANT_TYPE],
            token_endpoint_auth_method="none",
            scope="openid",
        )
    )
