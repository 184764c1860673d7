"""Reading a Keycloak realm export: JSON -> a validated :class:`~mock_idp.realm.Realm`.

A malformed file raises :class:`RealmError` naming the file, the JSON path and the problem
on one line. Fields the mock does not implement are listed (:func:`unknown_fields`) for one
start-up warning; which mapper types and registration policies it implements is read off
their registries, so the list cannot fall behind them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mock_idp.bodies import TooDeep, loads_bounded
from mock_idp.defaults import DEFAULT_ROLE_COMPOSITES
from mock_idp.json_model import JsonModel, ValidationError, fields
from mock_idp.mappers import MAPPERS
from mock_idp.realm import REGISTRATION_POLICY_TYPE, Client, ProtocolMapper, Realm, RegistrationPolicy
from mock_idp.registration_policies import DEFAULT_MAX_CLIENTS, POLICIES

# Client attributes with behaviour in the mock; other attributes are reported.
KNOWN_CLIENT_ATTRIBUTES = frozenset(
    {"pkce.code.challenge.method", "post.logout.redirect.uris", "standard.token.exchange.enabled"}
)


class RealmError(ValueError):
    """A realm file that cannot be served; ``str()`` is one CLI-ready line."""


def load_realm(source: str | os.PathLike[str] | dict[str, Any], *, origin: str | None = None) -> Realm:
    """Parse and validate a realm export from a path or an already-loaded dict.

    ``origin`` names where a dict came from, so errors still point at the file.
    """
    if isinstance(source, dict):
        data, origin = source, origin or "<realm dict>"
    else:
        data, origin = read_realm_json(source), origin or str(source)
    try:
        realm = Realm.model_validate(data)
    except ValidationError as exc:
        raise RealmError(f"{origin}: {json_path(exc.loc)}: {exc.msg}") from None
    _check_references(realm, origin)
    if realm.access_token_lifespan < 1:
        # Tokens that expire as they are issued: FastMCP's proxy refuses every one (a non-positive
        # expires_in), so every sign-in failed after a start that said ready.
        raise RealmError(
            f"{origin}: $.accessTokenLifespan: must be at least 1 second, got {realm.access_token_lifespan}"
        )
    return realm


def read_realm_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The realm file as a JSON object, or a one-line RealmError naming the file."""
    origin = str(path)
    try:
        # Bounded: json.loads recurses per level, so a deeply nested file was a RecursionError.
        data = loads_bounded(Path(path).read_bytes())
    except TooDeep as exc:
        raise RealmError(f"{origin}: invalid JSON: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RealmError(f"{origin}: cannot read realm file: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise RealmError(f"{origin}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # NaN, 1e999, a lone surrogate escape (mock_idp.bodies.loads_bounded)
        raise RealmError(f"{origin}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RealmError(f"{origin}: $: expected a JSON object (a Keycloak realm export), got {type(data).__name__}")
    return data


def json_path(loc: tuple[int | str, ...]) -> str:
    path = "$"
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isidentifier():
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


def _check_references(realm: Realm, origin: str) -> None:
    """Cross-field rules Keycloak enforces on import."""

    def fail(loc: tuple[int | str, ...], problem: str) -> None:
        raise RealmError(f"{origin}: {json_path(loc)}: {problem}")

    seen_clients: set[str] = set()
    for index, client in enumerate(realm.client_list):
        if client.client_id in seen_clients:
            fail(("clients", index, "clientId"), f"duplicate clientId {client.client_id!r}")
        seen_clients.add(client.client_id)
        if not client.public and not client.secret and client.enabled and not _bearer_only(client):
            fail(("clients", index, "secret"), "a confidential client needs a secret in the file")
        method = client.pkce_method
        if method not in (None, "S256", "plain"):
            fail(("clients", index, "attributes", "pkce.code.challenge.method"), f"unsupported PKCE method {method!r}")
    role_names = {role.name for role in realm.roles.realm} | {realm.default_role_name, *DEFAULT_ROLE_COMPOSITES}
    seen_users: set[str] = set()
    for index, user in enumerate(realm.user_list):
        if user.username in seen_users:
            fail(("users", index, "username"), f"duplicate username {user.username!r}")
        seen_users.add(user.username)
        for role_index, role in enumerate(user.realm_roles):
            if role not in role_names:
                fail(("users", index, "realmRoles", role_index), f"role {role!r} is not declared in $.roles.realm")
    for index, policy in enumerate(realm.components.registration_policies):
        if policy.provider_id == "max-clients":
            value = (policy.values("max-clients") or [DEFAULT_MAX_CLIENTS])[0]
            if not value.isdigit():
                fail(("components", REGISTRATION_POLICY_TYPE, index, "config", "max-clients", 0), "expected an integer")


def _bearer_only(client: Client) -> bool:
    return bool(client.model_extra.get("bearerOnly"))


def unknown_fields(realm: Realm) -> list[str]:
    return list(_unknown_fields(realm, "$"))


def _unknown_fields(model: JsonModel, path: str) -> Iterator[str]:
    for key in model.model_extra:
        yield f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]"
    for field_name, info in fields(type(model)).items():
        value = getattr(model, field_name)
        child = f"{path}.{info.alias}" if info.alias.isidentifier() else f"{path}[{json.dumps(info.alias)}]"
        if isinstance(value, JsonModel):
            yield from _unknown_fields(value, child)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, JsonModel):
                    yield from _unknown_fields(item, f"{child}[{index}]")
    if isinstance(model, ProtocolMapper) and model.protocol_mapper not in MAPPERS:
        yield f"{path}.protocolMapper={model.protocol_mapper!r} (mapper type not implemented)"
    if isinstance(model, RegistrationPolicy) and model.provider_id not in POLICIES:
        yield f"{path}.providerId={model.provider_id!r} (registration policy not implemented)"
    if isinstance(model, Client):
        for key in model.attributes:
            if key not in KNOWN_CLIENT_ATTRIBUTES:
                yield f"{path}.attributes[{json.dumps(key)}]"
