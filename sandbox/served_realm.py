"""The realm file as the sandbox uses it: one JSON for the mock IdP and for Keycloak."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from mock_idp import Realm, RealmError, load_realm
from mock_idp.realm_file import read_realm_json

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


def realm_for_base_urls(path: Path, base_urls: list[str]) -> dict[str, Any]:
    """The realm file for several sandboxes sharing one Keycloak (a test session).

    Every list entry that names the default address is repeated once per base URL
    (redirect URIs, audience mappers), so each sandbox finds its callback and audience.
    """
    return cast(dict[str, Any], _expand_lists(read_realm_json(path), REALM_FILE_BASE_URL, base_urls))


def _expand_lists(value: Any, old: str, news: list[str]) -> Any:
    if isinstance(value, dict):
        return {key: _expand_lists(item, old, news) for key, item in value.items()}
    if not isinstance(value, list):
        return value
    expanded: list[Any] = []
    for item in value:
        if not _names_outside_lists(item, old):
            expanded.append(_expand_lists(item, old, news))
            continue
        for index, new in enumerate(news):
            copy = _replace_in_strings(item, old, new)
            if isinstance(copy, dict) and index and isinstance(copy.get("name"), str):
                copy["name"] = f"{copy['name']}-{index}"  # mapper names are unique per client
            expanded.append(copy)
    return expanded


def _names_outside_lists(value: Any, old: str) -> bool:
    """Whether ``old`` is in this item itself rather than in a list nested inside it."""
    if isinstance(value, str):
        return old in value
    if isinstance(value, dict):
        return any(_names_outside_lists(item, old) for item in value.values())
    return False


def _replace_in_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_in_strings(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replace_in_strings(item, old, new) for key, item in value.items()}
    return value
