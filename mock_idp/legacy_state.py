"""The state file of releases before per-record persistence (one JSON document, version 1),
read once into today's records so an upgrade keeps every session, client and admin change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mock_idp.backing import Value


def import_v1(doc: dict[str, Any]) -> Iterator[tuple[str, str, Value, float | None]]:
    """(collection, key, value, ttl) for each record of a version-1 document; raises
    KeyError/TypeError/ValueError/AttributeError for a malformed one."""
    for sid, session in doc["sessions"].items():
        yield "sessions", str(sid), dict(session), None
    for key, client_session in doc["client_sessions"].items():
        yield "client_sessions", str(key), dict(client_session), None
    for jti, exp in doc["revoked"].items():
        yield "revoked", str(jti), {"exp": float(exp)}, None  # the store checks exp itself
    for client_id, entry in doc["registered_clients"].items():
        yield "registered_clients", str(client_id), dict(entry), None
    for username, clients in doc["consents"].items():
        yield "consents", str(username), {"clients": list(clients)}, None
    # Absent in files written before the admin API existed.
    overlay = dict(doc.get("overlay", {}))
    for username, rep in dict(overlay.get("users", {})).items():
        yield "users", str(username), {"user": rep}, None
    for name, rep in dict(overlay.get("roles", {})).items():
        yield "roles", str(name), dict(rep), None
    for user_id, claims in doc.get("extra_claims", {}).items():
        yield "claims", str(user_id), {"claims": dict(claims)}, None
    lifetimes = {str(k): int(v) for k, v in doc.get("lifetimes", {}).items()}
    if lifetimes:
        yield "settings", "lifetimes", lifetimes, None
