"""RFC 8693 token exchange of an ID token for an ID-JAG: the mock as an enterprise IdP (SEP-990).

The client trades the user's ID token (``subject_token``) for an Identity Assertion JWT
Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant): a short-lived JWT,
header ``typ: oauth-id-jag+jwt``, asserting the user to one MCP authorization server
(``aud`` = its issuer) for one MCP server (``resource``). The client presents it there with
the RFC 7523 jwt-bearer grant. Only this requested token type is implemented; Keycloak 26.7
issues no ID-JAG (its token exchange answers other types), which is why this flow is mock-only.

Mock policy, as an IdP would configure it: the client must have Keycloak's
``standard.token.exchange.enabled`` attribute; the ID-JAG's ``client_id`` is the client's own
id (the same identifier in both trust domains); any audience may be asked for.
"""

from __future__ import annotations

import uuid
from typing import Any

from mock_idp.errors import OAuthError, invalid_request
from mock_idp.idp import IdentityProvider
from mock_idp.realm import Client
from mock_idp.signing import sign_off_loop

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag"
ID_JAG_TYP = "oauth-id-jag+jwt"
ENABLED_ATTRIBUTE = "standard.token.exchange.enabled"
# RFC 7523 asks for short-lived assertions; FastMCP refuses any living over 300 s.
ID_JAG_LIFETIME = 300


async def token_exchange(idp: IdentityProvider, client: Client, form: dict[str, str]) -> dict[str, Any]:
    if client.attributes.get(ENABLED_ATTRIBUTE, "false").lower() != "true":
        raise OAuthError("unauthorized_client", "Standard token exchange is not enabled for the requested client")
    for name in ("subject_token", "subject_token_type", "requested_token_type", "audience", "resource"):
        if not form.get(name):
            raise invalid_request(f"Parameter '{name}' required")
    if form["requested_token_type"] != ID_JAG_TYPE:
        raise invalid_request(f"requested_token_type unsupported (the mock issues only {ID_JAG_TYPE})")
    if form["subject_token_type"] != ID_TOKEN_TYPE:
        raise invalid_request("Parameter 'subject_token' supports ID tokens only")
    subject = idp.user_token_claims(form["subject_token"], "ID")
    if subject is None:
        raise OAuthError("invalid_token", "Invalid token")
    if subject.get("aud") != client.client_id and subject.get("azp") != client.client_id:
        # The ID token must have been issued to the client exchanging it (RFC 8693 §2.1).
        raise OAuthError("invalid_token", "Client is not within the token audience")
    now = idp.clock.now_int()
    claims = {
        "iss": idp.issuer,
        "sub": subject["sub"],
        "aud": form["audience"],
        "client_id": client.client_id,
        "resource": form["resource"],
        "scope": form.get("scope") or "openid",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + ID_JAG_LIFETIME,
    }
    if "preferred_username" in subject:
        claims["preferred_username"] = subject["preferred_username"]
    return {
        "access_token": await sign_off_loop(idp.keys, claims, typ=ID_JAG_TYP),
        "issued_token_type": ID_JAG_TYPE,
        # RFC 8693 §2.2.1: not an access token, so no usable token_type.
        "token_type": "N_A",
        "expires_in": ID_JAG_LIFETIME,
        "scope": claims["scope"],
    }
