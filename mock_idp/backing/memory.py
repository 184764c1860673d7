"""Records in this process's memory, expiring by the IdP's clock."""

from __future__ import annotations

import copy

from mock_idp.backing import Value
from mock_idp.clock import Clock

_SWEEP_EVERY = 512  # puts between sweeps of expired records, so a busy IdP stays small


class MemoryBacking:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._data: dict[str, dict[str, tuple[Value, float | None]]] = {}
        self._puts = 0

    def get(self, collection: str, key: str) -> Value | None:
        entry = self._data.get(collection, {}).get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= self.clock.now():
            self._data[collection].pop(key, None)  # expired: nothing to record, a reload drops it too
            return None
        # A copy: records are values, a change counts only once put back.
        return copy.deepcopy(entry[0])

    def put(self, collection: str, key: str, value: Value, ttl: float | None = None) -> None:
        expires_at = None if ttl is None else self.clock.now() + ttl
        self._data.setdefault(collection, {})[key] = (copy.deepcopy(value), expires_at)
        self._changed(collection, key, value, expires_at)
        self._puts += 1
        if self._puts % _SWEEP_EVERY == 0:
            self.sweep()

    def add(self, collection: str, key: str, value: Value, ttl: float | None = None) -> bool:
        if self.get(collection, key) is not None:
            return False
        self.put(collection, key, value, ttl)
        return True

    def delete(self, collection: str, key: str) -> bool:
        if self.get(collection, key) is None:
            return False
        self._forget(collection, key)
        return True

    def keys(self, collection: str) -> list[str]:
        self.sweep()
        return list(self._data.get(collection, {}))

    def sweep(self) -> None:
        now = self.clock.now()
        for entries in self._data.values():
            for key in [k for k, (_, exp) in entries.items() if exp is not None and exp <= now]:
                del entries[key]

    def entries(self) -> list[tuple[str, str, Value, float | None]]:
        """Every live record as (collection, key, value, expires_at), for a journal's compaction."""
        self.sweep()
        return [(c, k, v, exp) for c, entries in self._data.items() for k, (v, exp) in entries.items()]

    def _forget(self, collection: str, key: str) -> None:
        self._data.get(collection, {}).pop(key, None)
        self._changed(collection, key, None, None)

    def _changed(self, collection: str, key: str, value: Value | None, expires_at: float | None) -> None:
        """Hook for a persistent subclass: a record was stored (or removed, ``value`` None)."""
