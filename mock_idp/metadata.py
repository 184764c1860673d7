"""A realm's discovery documents: OpenID Connect Discovery 1.0 / RFC 8414 metadata and the JWKS.

Apart from the endpoints (mock_idp/endpoints/discovery.py routes them), and free of Starlette:
the standalone mock answers them in its protocol (mock_idp/protocol.py) before it loads the
app behind them, so its cold start to a discovery 200 imports neither Starlette nor the endpoints.
"""

from __future__ import annotations

from mock_idp.client_auth import AUTH_METHODS
from mock_idp.documents import JsonDocument
from mock_idp.idp import IdentityProvider
from mock_idp.token_exchange import GRANT_TYPE as TOKEN_EXCHANGE

# The token endpoint's grants, in its order (mock_idp/endpoints/token.py pairs each with its handler).
GRANT_TYPES = ("authorization_code", "refresh_token", "password", "client_credentials", TOKEN_EXCHANGE)


def openid_configuration(idp: IdentityProvider) -> dict[str, object]:
    issuer, oidc = idp.issuer, f"{idp.issuer}/protocol/openid-connect"
    # Keycloak 26.7's list, word for word (it names neither email_verified nor sid).
    claims = [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "name",
        "given_name",
        "family_name",
        "preferred_username",
        "email",
        "acr",
        "azp",
        "nonce",
    ]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{oidc}/auth",
        "token_endpoint": f"{oidc}/token",
        "introspection_endpoint": f"{oidc}/token/introspect",
        "userinfo_endpoint": f"{oidc}/userinfo",
        "end_session_endpoint": f"{oidc}/logout",
        "frontchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "jwks_uri": f"{oidc}/certs",
        "grant_types_supported": list(GRANT_TYPES),
        "acr_values_supported": ["0", "1"],
        "response_types_supported": ["code", "none"],
        "subject_types_supported": ["public"],
        "prompt_values_supported": ["none", "login", "consent"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "userinfo_signing_alg_values_supported": ["none"],
        "request_object_signing_alg_values_supported": ["none"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "registration_endpoint": f"{issuer}/clients-registrations/openid-connect",
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "claims_supported": claims,
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": False,
        "scopes_supported": ["openid", *idp.realm.client_scopes],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "code_challenge_methods_supported": ["plain", "S256"],
        "tls_client_certificate_bound_access_tokens": False,
        "revocation_endpoint": f"{oidc}/revoke",
        "backchannel_logout_supported": False,
        "backchannel_logout_session_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }


def _discovery_version(idp: IdentityProvider) -> tuple[str, tuple[str, ...]]:
    return idp.issuer, tuple(idp.realm.client_scopes)


# Keycloak 26.7.3's Cache-Control on each (seen on a live one; it sends no ETag).
well_known = JsonDocument(
    _discovery_version, openid_configuration, cache_control="no-cache, must-revalidate, no-transform, no-store"
)
# A new version whenever the set of verifying keys changes: rotation, or a retired key's grace ending.
certs = JsonDocument(lambda idp: idp.keys.verification_kids(), lambda idp: idp.keys.jwks(), cache_control="no-cache")


def documents(prefix: str) -> dict[str, JsonDocument]:
    """The realm's precomputed documents by path (its routes, and the app's shortcut to them)."""
    return {
        f"{prefix}/.well-known/openid-configuration": well_known,
        f"{prefix}/.well-known/oauth-authorization-server": well_known,
        f"{prefix}/protocol/openid-connect/certs": certs,
    }
