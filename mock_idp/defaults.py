"""What Keycloak 26 creates on import when the realm file does not say.

Keycloak adds these built-in client scopes (with these mappers) only when a
realm export declares no ``clientScopes`` at all, and gives every user the
``default-roles-<realm>`` role whose composites are listed here. The mock
mirrors that so a file that relies on the built-ins yields the same tokens on
both backends.
"""

from __future__ import annotations

from typing import Any

DEFAULT_ROLE_COMPOSITES = ("offline_access", "uma_authorization")
# Keycloak's realm "default default" client scopes for new clients.
DEFAULT_CLIENT_SCOPES = ("web-origins", "acr", "profile", "roles", "basic", "email")

_ALL_TOKENS = {
    "access.token.claim": "true",
    "id.token.claim": "true",
    "userinfo.token.claim": "true",
    "introspection.token.claim": "true",
}


def _user_attribute(
    name: str, attribute: str, claim: str, mapper: str = "oidc-usermodel-attribute-mapper", json_type: str = "String"
) -> dict[str, Any]:
    config = {**_ALL_TOKENS, "user.attribute": attribute, "claim.name": claim, "jsonType.label": json_type}
    return {"name": name, "protocol": "openid-connect", "protocolMapper": mapper, "config": config}


BUILTIN_CLIENT_SCOPES: list[dict[str, Any]] = [
    {
        "name": "profile",
        "attributes": {"include.in.token.scope": "true"},
        "protocolMappers": [
            _user_attribute("username", "username", "preferred_username"),
            _user_attribute("given name", "firstName", "given_name"),
            _user_attribute("family name", "lastName", "family_name"),
            {"name": "full name", "protocolMapper": "oidc-full-name-mapper", "config": dict(_ALL_TOKENS)},
        ],
    },
    {
        "name": "email",
        "attributes": {"include.in.token.scope": "true"},
        "protocolMappers": [
            _user_attribute("email", "email", "email"),
            _user_attribute(
                "email verified", "emailVerified", "email_verified", "oidc-usermodel-property-mapper", "boolean"
            ),
        ],
    },
    {
        "name": "roles",
        "attributes": {"include.in.token.scope": "false"},
        "protocolMappers": [
            {
                "name": "realm roles",
                "protocolMapper": "oidc-usermodel-realm-role-mapper",
                "config": {
                    "claim.name": "realm_access.roles",
                    "multivalued": "true",
                    "jsonType.label": "String",
                    "access.token.claim": "true",
                    "introspection.token.claim": "true",
                },
            },
            {
                "name": "audience resolve",
                "protocolMapper": "oidc-audience-resolve-mapper",
                "config": {"access.token.claim": "true", "introspection.token.claim": "true"},
            },
        ],
    },
    {
        "name": "web-origins",
        "attributes": {"include.in.token.scope": "false"},
        "protocolMappers": [
            {
                "name": "allowed web origins",
                "protocolMapper": "oidc-allowed-origins-mapper",
                "config": {"access.token.claim": "true", "introspection.token.claim": "true"},
            }
        ],
    },
    {
        "name": "acr",
        "attributes": {"include.in.token.scope": "false"},
        "protocolMappers": [
            {
                "name": "acr loa level",
                "protocolMapper": "oidc-acr-mapper",
                "config": {"id.token.claim": "true", "access.token.claim": "true", "introspection.token.claim": "true"},
            }
        ],
    },
    {
        "name": "basic",
        "attributes": {"include.in.token.scope": "false"},
        "protocolMappers": [
            {
                "name": "sub",
                "protocolMapper": "oidc-sub-mapper",
                "config": {"access.token.claim": "true", "introspection.token.claim": "true"},
            },
            {
                "name": "auth_time",
                "protocolMapper": "oidc-usersessionmodel-note-mapper",
                "config": {
                    "user.session.note": "AUTH_TIME",
                    "claim.name": "auth_time",
                    "jsonType.label": "long",
                    **_ALL_TOKENS,
                },
            },
        ],
    },
    {"name": "offline_access", "attributes": {"include.in.token.scope": "true"}, "protocolMappers": []},
]

# Keycloak's anonymous client-registration policies for a realm whose file
# declares none (declaring any one replaces all of these). Policies the mock
# does not implement ("Allowed Client Scopes", ...) are left out.
DEFAULT_REGISTRATION_POLICIES: list[dict[str, Any]] = [
    {
        "name": "Trusted Hosts",
        "providerId": "trusted-hosts",
        "subType": "anonymous",
        "config": {"host-sending-registration-request-must-match": ["true"], "client-uris-must-match": ["true"]},
    },
    {"name": "Consent Required", "providerId": "consent-required", "subType": "anonymous", "config": {}},
    {
        "name": "Max Clients Limit",
        "providerId": "max-clients",
        "subType": "anonymous",
        "config": {"max-clients": ["200"]},
    },
]
