"""What each kind of step is, in one sentence, and which specification section it implements."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Explanation:
    title: str
    text: str
    rfc: str


EXPLANATIONS: dict[str, Explanation] = {
    "unauthorized": Explanation(
        "401 + WWW-Authenticate",
        "The MCP request carried no valid token; the 401's WWW-Authenticate names the protected-resource metadata URL.",
        "RFC 9728 §5.1",
    ),
    "prm_discovery": Explanation(
        "Protected-resource metadata",
        "The client reads which authorization server protects this MCP server and which resource URL to ask tokens for.",
        "RFC 9728 §3",
    ),
    "as_metadata": Explanation(
        "Authorization-server metadata",
        "The client reads the authorization server's endpoints, PKCE methods and registration endpoint (a 404 is a probe of another well-known URL form).",
        "RFC 8414 §3",
    ),
    "registration": Explanation(
        "Dynamic client registration",
        "The client registers its redirect URIs and gets a client_id, without anyone pre-registering it.",
        "RFC 7591 §3.1",
    ),
    "cimd_fetch": Explanation(
        "Client ID Metadata Document",
        "The client_id is an HTTPS URL, so instead of a registration call the server fetches the document there, checks that its client_id is that very URL and takes the client's name and redirect URIs from it.",
        "draft-ietf-oauth-client-id-metadata-document-00 §4, MCP 2026-07-28 Authorization §Client ID Metadata Documents",
    ),
    "authorize": Explanation(
        "Authorization request",
        "The browser opens the authorization endpoint with the client's PKCE code_challenge, its state and the resource it wants a token for.",
        "RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2",
    ),
    "consent_shown": Explanation(
        "Proxy consent page",
        "Before anything goes upstream the proxy asks the user to approve this client: the IdP only knows the proxy, so this guards against a confused deputy.",
        "RFC 6749 §10.2",
    ),
    "consent_decided": Explanation(
        "Consent decided",
        "The user's answer: approve sends the browser upstream, deny returns access_denied to the client.",
        "RFC 6749 §4.1.2.1",
    ),
    "upstream_redirect": Explanation(
        "Redirect to the IdP",
        "The proxy sends the browser to the IdP as its own pre-registered client, with its own PKCE challenge and its transaction id as state.",
        "RFC 6749 §4.1.1, RFC 7636 §4.2",
    ),
    "idp_authorize": Explanation(
        "IdP authorization endpoint",
        "The IdP checks client_id and redirect_uri, then shows its login page (or reuses an SSO session).",
        "RFC 6749 §4.1.1",
    ),
    "idp_login": Explanation(
        "Login at the IdP",
        "The user authenticates at the IdP; on success the IdP redirects back with a code, the state and its issuer.",
        "RFC 6749 §4.1.2, RFC 9207 §2",
    ),
    "idp_consent": Explanation(
        "IdP consent page",
        "The IdP asks the user to grant this client the requested scopes.",
        "RFC 6749 §4.1.1",
    ),
    "callback": Explanation(
        "Callback at the proxy",
        "The IdP's redirect reaches the proxy; it matches state to its transaction, redeems the code, then redirects the browser to the client with a code of its own.",
        "RFC 6749 §4.1.2, RFC 9207 §2",
    ),
    "upstream_token_exchange": Explanation(
        "Upstream code exchange",
        "Server to server: the proxy redeems the IdP's code with its client secret and its own PKCE verifier; the IdP's tokens never reach the client.",
        "RFC 6749 §4.1.3, RFC 7636 §4.5",
    ),
    "token_exchange": Explanation(
        "Client code exchange",
        "The client redeems its code with its PKCE code_verifier (and the resource); the server checks the verifier against the challenge.",
        "RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2",
    ),
    "token_issued": Explanation(
        "Token issued",
        "The access token the client now holds: who issued it (iss), for which resource (aud), for which client and until when.",
        "RFC 6749 §5.1, RFC 8707 §2.2",
    ),
    "mcp_call": Explanation(
        "Authenticated MCP call",
        "An MCP request with the access token as a Bearer credential; the server validates it before running the method.",
        "RFC 6750 §2.1",
    ),
    "upstream_mcp": Explanation(
        "MCP call to the upstream",
        "The proxy relays the call to the MCP server behind it (upstream mode). It never sends the client's token (token passthrough is forbidden); the headers show who is signed in, and a token minted for the upstream when --upstream-token is on.",
        "MCP 2025-11-25 Security Best Practices §Token Passthrough",
    ),
    "step_up": Explanation(
        "403 insufficient_scope (step-up)",
        "The token is valid but lacks a scope this call needs, so the 403's WWW-Authenticate names only the missing scope and the client authorizes again asking for it plus the scopes it already had.",
        "RFC 6750 §3.1, MCP 2026-07-28 Authorization §Scope Challenge Handling",
    ),
    "refresh": Explanation(
        "Refresh",
        "The client trades its refresh token for a new access token without the browser.",
        "RFC 6749 §6",
    ),
    "upstream_refresh": Explanation(
        "Upstream refresh",
        "The proxy refreshes the IdP's tokens it keeps for this client, server to server.",
        "RFC 6749 §6",
    ),
    "revocation": Explanation(
        "Revocation",
        "The client tells the server a token is no longer needed.",
        "RFC 7009 §2.1",
    ),
    "upstream_revocation": Explanation(
        "Upstream revocation",
        "The proxy revokes the matching IdP token too.",
        "RFC 7009 §2.1",
    ),
    "upstream_discovery": Explanation(
        "IdP discovery",
        "The IdP's OpenID configuration: its endpoints and signing keys' location.",
        "RFC 8414 §3",
    ),
    "jwks": Explanation(
        "IdP signing keys",
        "The server fetches the IdP's public keys (JWKS) to verify the IdP's token signatures.",
        "RFC 8414 §2 (jwks_uri)",
    ),
    "userinfo": Explanation(
        "UserInfo",
        "Claims about the signed-in user, fetched with the IdP's access token.",
        "RFC 6750 §2.1",
    ),
    "other": Explanation("Other request", "A request on an OAuth path that no other step describes.", "RFC 6749 §3"),
}


def explain(kind: str) -> Explanation:
    return EXPLANATIONS.get(kind, EXPLANATIONS["other"])
