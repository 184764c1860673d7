"""Where the mock IdP's records live: a key-value interface and the backings behind it.

Shaped like py-key-value's stores (a collection per record kind, per-key TTLs, a
``delete`` that is True only for the caller that removed the key), but synchronous: the
IdP's grant handlers, issuance and in-process mock controls are plain functions, and a
record read is a dict lookup in the memory and file backings. ``add`` (put if absent)
is what single use rests on: a code is redeemed by the one caller whose ``add`` won.

Values are JSON objects. TTLs are seconds of the IdP's clock (a moved clock expires
records in the memory and file backings; networked ones count real seconds, and the
store checks expiry itself wherever it matters, so a TTL only collects garbage).
"""

from __future__ import annotations

from typing import Any, Protocol

Value = dict[str, Any]


class BackingUnavailable(Exception):
    """A networked backing did not answer: the request gets a clear error, never a 500 page."""


class Backing(Protocol):
    def get(self, collection: str, key: str) -> Value | None: ...

    def put(self, collection: str, key: str, value: Value, ttl: float | None = None) -> None: ...

    def add(self, collection: str, key: str, value: Value, ttl: float | None = None) -> bool:
        """Store ``value`` unless the key exists; True only for the caller that stored it."""
        ...

    def delete(self, collection: str, key: str) -> bool:
        """True only for the caller that removed the key."""
        ...

    def keys(self, collection: str) -> list[str]:
        """The live keys, oldest first."""
        ...
