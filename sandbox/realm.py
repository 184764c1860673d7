"""The realm file as the sandbox uses it: one JSON for the mock IdP and for Keycloak."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The realm file is written for the default address; a sandbox on another port
# rewrites these URLs (redirect URI, MCP audience) before either backend sees them.
REALM_FILE_BASE_URL = "http://localhost:8000"


class RealmFileError(Exception):
    """The realm file cannot be used; the message is one line naming the file and the cause."""


@dataclass(frozen=True)
class UpstreamClient:
    client_id: str
    client_secret: str


def read_realm(path: Path, base_url: str = REALM_FILE_BASE_URL) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RealmFileError(f"realm file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RealmFileError(f"cannot read realm file {path}: {exc}") from None
    try:
        realm = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RealmFileError(f"realm file {path} is not valid JSON: {exc}") from None
    if not isinstance(realm, dict):
        raise RealmFileError(f"realm file {path}: expected a JSON object at $, got {type(realm).__name__}")
    if base_url != REALM_FILE_BASE_URL:
        realm = _replace_in_strings(realm, REALM_FILE_BASE_URL, base_url)
    return realm


def upstream_client(realm: dict[str, Any], client_id: str, source: Path) -> UpstreamClient:
    """The confidential client the proxy uses upstream, as the realm file declares it."""
    for client in realm.get("clients") or []:
        if isinstance(client, dict) and client.get("clientId") == client_id:
            secret = client.get("secret")
            if client.get("publicClient") or not isinstance(secret, str) or not secret:
                raise RealmFileError(
                    f"realm file {source}: client {client_id!r} must be confidential with a 'secret'"
                )
            return UpstreamClient(client_id=client_id, client_secret=secret)
    raise RealmFileError(f"realm file {source}: no client with clientId {client_id!r}")


def _replace_in_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_in_strings(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replace_in_strings(item, old, new) for key, item in value.items()}
    return value
