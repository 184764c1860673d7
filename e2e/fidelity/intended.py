"""Where the mock differs from Keycloak 26.7.3 on purpose, and where it still differs: one list, with reasons.

Each entry is ``(case, path pattern)``: the pattern (``*``: anything) matches the paths of
the flattened observation (``body.error``, ``cookies.KC_RESTART``, ``page.body.forms[0].fields``;
see :func:`fidelity.compare.flatten`). A difference no entry covers fails the suite, and so
does an entry that no longer covers any difference: the list stays true both ways.
"""

from __future__ import annotations

_DISCOVERY = ("discovery", "discovery.oauth-authorization-server")

# Features the mock does not implement. Its discovery document leaves them out, or lists
# only the values it implements, so a client never picks what would then fail.
_NOT_IMPLEMENTED = {
    "body.*_encryption_*": "encrypted ID tokens, userinfo, request objects and JARM",
    "body.*signing_alg_values_supported": "signs with RS256 only; no request objects, signed userinfo, JWT client authentication or DPoP",
    "body.*_auth_methods_supported": "client authentication by secret only (no private_key_jwt, client_secret_jwt, mTLS)",
    "body.backchannel_*": "no CIBA and no back-channel logout",
    "body.check_session_iframe": "no OIDC session-management iframe",
    "body.device_authorization_endpoint": "no device authorization grant",
    "body.pushed_authorization_request_endpoint": "no pushed authorization requests (PAR)",
    "body.require_pushed_authorization_requests": "no pushed authorization requests (PAR)",
    "body.mtls_endpoint_aliases.*": "no mutual-TLS endpoints",
    "body.tls_client_certificate_bound_access_tokens": "no certificate-bound tokens",
    "body.claims_parameter_supported": "no claims request parameter",
    "body.request_parameter_supported": "no request objects",
    "body.request_uri_parameter_supported": "no request objects",
    "body.require_request_uri_registration": "no request objects",
    "body.response_modes_supported": "no JWT-secured responses (JARM)",
    "body.response_types_supported": "no implicit or hybrid flows (Keycloak's clients have them off too)",
    "body.grant_types_supported": "no implicit, device, CIBA, UMA or JWT-bearer grants",
    "body.subject_types_supported": "no pairwise subjects",
}
INTENDED: dict[tuple[str, str], str] = {
    **{(case, pattern): reason for case in _DISCOVERY for pattern, reason in _NOT_IMPLEMENTED.items()},
    ("jwks", "body.keys[0].x5*"): "the mock's signing key has no certificate chain (x5c, x5t); clients use n and e",
    ("jwks", "body.keys[1].*"): "no encryption key (RSA-OAEP): the mock implements no encrypted tokens",
}

# Differences that are still bugs of the mock, and who is on them. Fix one, and its entry
# must go (the suite says so).
OPEN: dict[tuple[str, str], str] = {}
