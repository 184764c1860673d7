"""The sample MCP server the sandbox protects: one tool, one resource, one prompt."""

from __future__ import annotations

import base64
import json
from importlib.resources import files
from typing import Any

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import get_access_token
from key_value.aio.stores.memory import MemoryStore
from mcp.types import Icon

from sandbox.stepup import ADMIN_SCOPE
from sandbox.store_cache import WriteThroughCache

# The consent page shows the server's first icon, else FastMCP's logo from the internet
# (a broken image offline). Its CSP allows only https: and data: images, so a local logo
# must travel as a data: URI.
LOGO = Icon(
    src="data:image/svg+xml;base64,"
    + base64.b64encode((files("sandbox") / "static" / "logo.svg").read_bytes()).decode(),
    mime_type="image/svg+xml",
    sizes=["any"],
)

ADMIN_ROLE = "mcp-admin"
# Tools the step-up gate (sandbox/stepup.py) answers with 403 insufficient_scope when the
# token lacks their scopes. Declared here, not with FastMCP's require_scopes, so the tool
# stays listed for every token and any client can try it.
SCOPED_TOOLS = {"admin_report": frozenset({ADMIN_SCOPE})}

FLOW_PHASES = """\
The OAuth proxy flow, as this sandbox runs it ({mcp_url}):

1. Discovery. The client calls /mcp without a token and gets 401 with
   `WWW-Authenticate: Bearer resource_metadata=...`. It reads the protected-resource
   metadata (RFC 9728), which names this server as its authorization server, then the
   authorization-server metadata (RFC 8414).
2. Registration. The client registers itself at /register (RFC 7591 Dynamic Client
   Registration) with its loopback redirect URI. The upstream IdP never sees this: the
   proxy records the client and will use its own pre-registered confidential client
   ({upstream_client_id}) upstream.
3. Authorization with dual PKCE. The client opens /authorize with its own PKCE
   challenge (RFC 7636) and `resource` (RFC 8707). The proxy keeps that challenge, makes
   a second PKCE pair of its own for the upstream leg, and starts a transaction.
4. Consent. The proxy shows which client wants access and where the browser will be
   sent back to. This stops a confused-deputy attack: without it, any site could
   register a client and ride on the user's upstream session.
5. Upstream login. The browser goes to the IdP ({realm_url}) with the proxy's client
   id, its fixed callback and its own PKCE challenge; the user logs in there.
6. Callback. The IdP redirects to the proxy's fixed {callback_url}. The proxy exchanges
   the upstream code server-side (with its client secret and PKCE verifier), keeps the
   upstream tokens, and redirects the browser to the client's own loopback redirect URI
   with a new code of its own (and `iss`, RFC 9207).
7. Token exchange. The client trades that code and its PKCE verifier at /token and
   receives tokens issued by the proxy, not the upstream ones (RFC 6749).
8. Authenticated calls. Each /mcp call carries the proxy's token; the proxy maps it to
   the stored upstream token and verifies that against the IdP's JWKS, refreshing it
   upstream when it has expired.
9. Step-up. `admin_report` needs the scope `mcp:admin`, which the first authorization did
   not ask for: the call answers HTTP 403 with `WWW-Authenticate: Bearer
   error="insufficient_scope", scope="mcp:admin"`, naming only what is missing. The client
   authorizes again asking for that scope plus the ones it already had (SEP-2350), and
   retries. The scope says the client may act; the user's `mcp-admin` role says the user
   may: with the scope, bob still gets a tool error naming the role.
"""


NATIVE_FLOW_PHASES = """\
The native DCR flow, as this sandbox runs it without the proxy ({mcp_url}):

1. Discovery. The client calls /mcp without a token and gets 401 with
   `WWW-Authenticate: Bearer resource_metadata=...`. The protected-resource metadata
   (RFC 9728) names the IdP's realm ({realm_url}) as the authorization server; the client
   reads the realm's own metadata (RFC 8414 / OpenID discovery).
2. Registration. The client registers at the IdP's DCR endpoint (RFC 7591), anonymously,
   under the realm's Trusted Hosts policy: every MCP client becomes a client of the IdP.
3. Authorization with PKCE. The browser goes straight to the IdP with the client's own
   client id and PKCE challenge (RFC 7636); there is no consent screen of the server's and
   no second PKCE pair.
4. Login. The user logs in at the IdP, which redirects to the client's loopback URI with a
   code (and `iss`, RFC 9207).
5. Token exchange. The client trades the code and its verifier at the IdP's token endpoint
   and receives the IdP's own tokens.
6. Authenticated calls. Each /mcp call carries the IdP's access token; the server checks
   its signature against the realm's JWKS and that its audience names {mcp_url}.
"""


def create_sample_server(oauth_config: dict[str, Any]) -> FastMCP:
    """``oauth_config`` is the public OAuth configuration, shown by the config resource."""
    # FastMCP reads an authenticated session's visibility rules from its state store on every
    # call; its default, py-key-value's MemoryStore, type-checks each read with beartype (no
    # switch turns it off), ~5% of an authenticated greet (issue 17). The same memory store
    # with reads, misses included, answered from a dict (sandbox/store_cache.py).
    mcp = FastMCP("MCP OAuth sandbox", icons=[LOGO], session_state_store=WriteThroughCache(MemoryStore()))

    # All async: none blocks, and FastMCP runs a sync function in a worker thread,
    # a hop that cost about 11% of an authenticated greet (issue 17).
    # Descriptions are given, not docstrings: FastMCP parses a docstring with griffe, whose
    # import was a fiftieth of the sandbox's start-up (issue 17); what clients see is the same.
    @mcp.tool(description="Greet someone, as the user who is signed in through the OAuth proxy.")
    async def greet(name: str) -> str:
        token = get_access_token()
        claims = token.claims if token else {}
        user = claims.get("preferred_username") or claims.get("sub") or "an unknown user"
        # Only this server's roles: Keycloak also grants every user default-roles-<realm> and friends.
        roles = ", ".join(sorted(r for r in claims.get("realm_access", {}).get("roles", []) if r.startswith("mcp-")))
        roles = roles or "none"
        return f"Hello, {name}! You are signed in as {user} (roles: {roles})."

    @mcp.tool(description="An administrator's report. Needs the scope mcp:admin (step-up) and the mcp-admin role.")
    async def admin_report() -> str:
        token = get_access_token()
        if token is None or ADMIN_SCOPE not in token.scopes:
            # The step-up gate answers 403 before this in proxy mode; this covers the rest.
            raise ToolError(f"the scope {ADMIN_SCOPE} is required: authorize again asking for it")
        claims = token.claims
        user = claims.get("preferred_username") or claims.get("sub") or "an unknown user"
        if ADMIN_ROLE not in claims.get("realm_access", {}).get("roles", []):
            raise ToolError(f"the {ADMIN_ROLE} role is required: {user} has the scope {ADMIN_SCOPE} but not the role")
        return f"Admin report for {user}: scopes {' '.join(sorted(token.scopes))}; every check passed."

    @mcp.resource(
        "resource://server/config",
        mime_type="application/json",
        description="The sandbox's OAuth configuration, without secrets.",
    )
    async def server_config() -> str:
        return json.dumps(oauth_config, indent=2)

    @mcp.prompt(description="Explain each phase of the OAuth flow this server runs.")
    async def explain_oauth_flow() -> str:
        phases = NATIVE_FLOW_PHASES if oauth_config.get("mode") == "native-dcr" else FLOW_PHASES
        return phases.format(**oauth_config)

    return mcp
