"""Keycloak-shaped token claims: client scopes + protocol mappers -> JWT claims.

Which claims a token carries is decided by the realm file (the client's own
``protocolMappers`` and the mappers of its client scopes), exactly as in
Keycloak; only the envelope claims (iss, exp, iat, jti, typ, azp, sid, ...) are
fixed here.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

from mock_idp.realm import Client, ClientScope, ProtocolMapper, Realm, User

TokenKind = Literal["access", "id", "userinfo", "introspection"]
_FLAG = {
    "access": "access.token.claim",
    "id": "id.token.claim",
    "userinfo": "userinfo.token.claim",
    "introspection": "introspection.token.claim",
}
# Keycloak migrated every mapper to "also in introspection" when the flag appeared.
_FLAG_DEFAULT = {"access": False, "id": False, "userinfo": False, "introspection": True}
ACCOUNT_CLIENT = "account"
_USER_PROPERTIES = {
    "username": "username",
    "email": "email",
    "firstName": "first_name",
    "lastName": "last_name",
    "emailVerified": "email_verified",
}


@dataclass(frozen=True)
class Subject:
    """Whom a user token is about, and the context its mappers read."""

    user: User
    sub: str
    roles: list[str]
    auth_time: int | None
    acr: str = "1"


def applied_scopes(realm: Realm, client: Client, requested: str) -> list[ClientScope]:
    """The client's default scopes plus the optional ones the request asked for."""
    wanted = set(requested.split())
    names = list(realm.default_scopes_for(client))
    names += [name for name in realm.optional_scopes_for(client) if name in wanted and name not in names]
    return [realm.client_scopes[name] for name in names if name in realm.client_scopes]


def scope_claim(scopes: list[ClientScope], requested: str) -> str:
    names = ["openid"] if "openid" in requested.split() else []
    names += [scope.name for scope in scopes if scope.include_in_token_scope]
    return " ".join(names)


def mapper_claims(
    realm: Realm, client: Client, scopes: list[ClientScope], subject: Subject | None, kind: TokenKind
) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    mappers = [m for scope in scopes for m in scope.protocol_mappers] + list(client.protocol_mappers)
    for mapper in mappers:
        if mapper.flag(_FLAG[kind], _FLAG_DEFAULT[kind]):
            _apply(mapper, realm, client, subject, claims)
    return claims


def _apply(
    mapper: ProtocolMapper, realm: Realm, client: Client, subject: Subject | None, claims: dict[str, Any]
) -> None:
    kind, config = mapper.protocol_mapper, mapper.config
    if kind == "oidc-audience-mapper":
        audience = config.get("included.client.audience") or config.get("included.custom.audience")
        if audience:
            _add_audience(claims, audience)
        return
    if kind == "oidc-hardcoded-claim-mapper":
        _set_claim(claims, config.get("claim.name"), _typed(config.get("claim.value"), config))
        return
    if kind == "oidc-allowed-origins-mapper":
        claims["allowed-origins"] = _allowed_origins(client)
        return
    if subject is None:  # the rest describe a user
        return
    user = subject.user
    if kind == "oidc-sub-mapper":
        claims["sub"] = subject.sub
    elif kind == "oidc-usermodel-realm-role-mapper":
        _set_claim(claims, config.get("claim.name") or "realm_access.roles", list(subject.roles))
    elif kind in ("oidc-usermodel-attribute-mapper", "oidc-usermodel-property-mapper"):
        attribute = config.get("user.attribute", "")
        if attribute in _USER_PROPERTIES:
            value: Any = getattr(user, _USER_PROPERTIES[attribute])
        else:
            values = user.attributes.get(attribute) or []
            value = values if config.get("multivalued") == "true" else (values[0] if values else None)
        if value is not None:
            _set_claim(claims, config.get("claim.name"), _typed(value, config))
    elif kind == "oidc-full-name-mapper":
        name = " ".join(part for part in (user.first_name, user.last_name) if part)
        if name:
            claims["name"] = name
    elif kind == "oidc-usersessionmodel-note-mapper":
        if config.get("user.session.note") == "AUTH_TIME" and subject.auth_time is not None:
            _set_claim(claims, config.get("claim.name"), subject.auth_time)
    elif kind == "oidc-acr-mapper":
        claims["acr"] = subject.acr
    elif kind == "oidc-audience-resolve-mapper" and realm.default_role_name in subject.roles:
        # The only client roles the mock knows: Keycloak's default role holds the account
        # console's (view-profile, manage-account), so the account client is an audience.
        _add_audience(claims, ACCOUNT_CLIENT)
    # oidc-usermodel-client-role-mapper: no other client roles, so nothing to add.


def _add_audience(claims: dict[str, Any], audience: str) -> None:
    current = claims.get("aud")
    values = [] if current is None else [current] if isinstance(current, str) else list(current)
    if audience not in values:
        values.append(audience)
    # Keycloak serialises a single audience as a string.
    claims["aud"] = values[0] if len(values) == 1 else values


def _set_claim(claims: dict[str, Any], name: str | None, value: Any) -> None:
    """Set a possibly nested claim; Keycloak splits names on unescaped dots."""
    if not name or value is None:
        return
    parts = [part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", name)]
    target = claims
    for part in parts[:-1]:
        nested = target.get(part)
        if not isinstance(nested, dict):
            nested = target[part] = {}
        target = nested
    target[parts[-1]] = value


def _typed(value: Any, config: dict[str, str]) -> Any:
    label = config.get("jsonType.label", "String").lower()
    if isinstance(value, list):
        return [_typed(item, config) for item in value]
    try:
        if label == "boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
        if label in ("long", "int"):
            return int(value)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, (bool, int)) else (None if value is None else str(value))


def _allowed_origins(client: Client) -> list[str]:
    origins: list[str] = []
    for origin in client.web_origins:
        if origin == "+":
            for uri in client.redirect_uris:
                # Keycloak keeps a wildcard port as it is: "http://localhost:*".
                scheme, _, rest = uri.partition("://")
                host = rest.split("/", 1)[0]
                if not host.endswith(":*"):
                    host = host.rstrip("*")
                if scheme and host and not host.endswith(":"):
                    origins.append(f"{scheme}://{host}")
        else:
            origins.append(origin)
    return sorted(set(origins))


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: left half of SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")
