"""Protocol mappers: client scopes + the realm's mappers -> JWT claims, one handler per mapper type.

Which claims a token carries is decided by the realm file (the client's own
``protocolMappers`` and the mappers of its client scopes), exactly as in
Keycloak; the envelope claims (iss, exp, iat, jti, typ, azp, sid, ...) are
mock_idp/issuance.py's. ``MAPPERS`` lists the mapper types implemented; the realm file's
others are reported at start-up (mock_idp/realm_file.py).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
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


@dataclass(frozen=True)
class Mapping:
    """What a mapper reads: its own config, the realm, the client, and whom the token is about
    (``None`` for a client's own token, where mappers that describe a user add nothing)."""

    mapper: ProtocolMapper
    realm: Realm
    client: Client
    subject: Subject | None

    @property
    def config(self) -> dict[str, str]:
        return self.mapper.config


def mapper_claims(
    realm: Realm, client: Client, scopes: list[ClientScope], subject: Subject | None, kind: TokenKind
) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    mappers = [m for scope in scopes for m in scope.protocol_mappers] + list(client.protocol_mappers)
    for mapper in mappers:
        apply = MAPPERS.get(mapper.protocol_mapper)
        if apply is not None and mapper.flag(_FLAG[kind], _FLAG_DEFAULT[kind]):
            apply(Mapping(mapper, realm, client, subject), claims)
    return claims


def _audience(mapping: Mapping, claims: dict[str, Any]) -> None:
    audience = mapping.config.get("included.client.audience") or mapping.config.get("included.custom.audience")
    if audience:
        _add_audience(claims, audience)


def _hardcoded_claim(mapping: Mapping, claims: dict[str, Any]) -> None:
    _set_claim(claims, mapping.config.get("claim.name"), _typed(mapping.config.get("claim.value"), mapping.config))


def _allowed_origins_claim(mapping: Mapping, claims: dict[str, Any]) -> None:
    claims["allowed-origins"] = _allowed_origins(mapping.client)


def _sub(subject: Subject, mapping: Mapping, claims: dict[str, Any]) -> None:
    claims["sub"] = subject.sub


def _realm_roles(subject: Subject, mapping: Mapping, claims: dict[str, Any]) -> None:
    _set_claim(claims, mapping.config.get("claim.name") or "realm_access.roles", list(subject.roles))


def _user_attribute(subject: Subject, mapping: Mapping, claims: dict[str, Any]) -> None:
    config, user = mapping.config, subject.user
    attribute = config.get("user.attribute", "")
    if attribute in _USER_PROPERTIES:
        value: Any = getattr(user, _USER_PROPERTIES[attribute])
    else:
        values = user.attributes.get(attribute) or []
        value = values if config.get("multivalued") == "true" else (values[0] if values else None)
    if value is not None:
        _set_claim(claims, config.get("claim.name"), _typed(value, config))


def _full_name(subject: Subject, mapping: Mapping, claims: dict[str, Any]) -> None:
    name = " ".join(part for part in (subject.user.first_name, subject.user.last_name) if part)
    if name:
        claims["name"] = name


def _session_note(subject: Subject, mapping: Mapping, claims: dict[str, Any]) -> None:
    if mapping.config.get("user.session.note") == "AUTH_TIME" and subject.auth_time is not None:
        _set_claim(claims, mapping.config.get("claim.name"), subject.auth_time)


def _acr(subject: Subject, mapping: Mapping, claims: dict[str, Any]) -> None:
    claims["acr"] = subject.acr


def _audience_resolve(subject: Subject, mapping: Mapping, claims: dict[str, Any]) -> None:
    # The only client roles the mock knows: Keycloak's default role holds the account
    # console's (view-profile, manage-account), so the account client is an audience.
    if mapping.realm.default_role_name in subject.roles:
        _add_audience(claims, ACCOUNT_CLIENT)


def _client_roles(subject: Subject, mapping: Mapping, claims: dict[str, Any]) -> None:
    """No client roles but the account console's (see _audience_resolve): nothing to add."""


Apply = Callable[[Mapping, dict[str, Any]], None]
UserApply = Callable[[Subject, Mapping, dict[str, Any]], None]


def _of_user(apply: UserApply) -> Apply:
    """A mapper that describes the user: it adds nothing to a token without one."""

    def run(mapping: Mapping, claims: dict[str, Any]) -> None:
        if mapping.subject is not None:
            apply(mapping.subject, mapping, claims)

    return run


# Keycloak's protocol mapper types the mock implements (realm.py reports the others).
MAPPERS: dict[str, Apply] = {
    "oidc-audience-mapper": _audience,
    "oidc-hardcoded-claim-mapper": _hardcoded_claim,
    "oidc-allowed-origins-mapper": _allowed_origins_claim,
    "oidc-sub-mapper": _of_user(_sub),
    "oidc-usermodel-realm-role-mapper": _of_user(_realm_roles),
    "oidc-usermodel-client-role-mapper": _of_user(_client_roles),
    "oidc-usermodel-attribute-mapper": _of_user(_user_attribute),
    "oidc-usermodel-property-mapper": _of_user(_user_attribute),
    "oidc-full-name-mapper": _of_user(_full_name),
    "oidc-usersessionmodel-note-mapper": _of_user(_session_note),
    "oidc-acr-mapper": _of_user(_acr),
    "oidc-audience-resolve-mapper": _of_user(_audience_resolve),
}


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
