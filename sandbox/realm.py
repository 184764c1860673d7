"""The realm file as the sandbox uses it: one JSON for the mock IdP and for Keycloak."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mock_idp import Realm, RealmError, load_realm
from mock_idp.realm import read_realm_json

# The realm file is written for the default address; a sandbox on another port
# rewrites these URLs (redirect URI, MCP audience) before either backend sees them.
REALM_FILE_BASE_URL = "http://localhost:8000"


@dataclass(frozen=True)
class RealmFile:
    """The realm as both backends get it (``data``) and as the sandbox reads it (``model``)."""

    path: Path
    data: dict[str, Any]
    model: Realm

    def upstream_client(self, client_id: str) -> tuple[str, str]:
        """Client id and secret of the confidential client the proxy uses upstream."""
        client = self.model.clients.get(client_id)
        if client is None:
            raise RealmError(f"{self.path}: no client with clientId {client_id!r}")
        if client.public or not client.secret:
            raise RealmError(f"{self.path}: client {client_id!r} must be confidential with a 'secret'")
        return client.client_id, client.secret

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.data, indent=2), encoding="utf-8")
        return path


def read_realm(path: Path, base_url: str = REALM_FILE_BASE_URL) -> RealmFile:
    """Read and validate the realm file; errors are one-line ``RealmError``s naming the file."""
    data = read_realm_json(path)
    if base_url != REALM_FILE_BASE_URL:
        data = _replace_in_strings(data, REALM_FILE_BASE_URL, base_url)
    return RealmFile(path=path, data=data, model=load_realm(data, origin=str(path)))


def _replace_in_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_in_strings(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replace_in_strings(item, old, new) for key, item in value.items()}
    return value
