"""A write-through memory cache in front of the proxy's encrypted file store.

Every authenticated MCP call makes FastMCP read its token records (the jti mapping and the
upstream token set) and the sandbox look up a revocation; from the file store each read
resolves paths in worker threads, reads the file and decrypts it, about a third of a call.
This cache answers repeated reads from memory, misses included (a revocation lookup almost
always misses). Every write still goes to the file store before it returns, so a restart,
or a kill -9, keeps everything.

py-key-value-aio 0.5.0's ``PassthroughCacheWrapper`` is not used: a read that misses the
cache awaits the file store and then caches what it read, so a delete that lands during
that await is undone in the cache (a redeemed authorization code comes back). Here each
key has a generation that every write bumps, and a read caches its answer only if no write
to its key happened while it awaited. The cache is this process's: one sandbox per state
directory, as ``sandbox.state`` expects.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, SupportsFloat

from key_value.aio.protocols import AsyncKeyValue
from key_value.aio.wrappers.base import BaseWrapper

DEFAULT_COLLECTION = "default"

_Key = tuple[str, str]


class _Entry:
    __slots__ = ("expires", "value")

    def __init__(self, value: dict[str, Any] | None, ttl: float | None) -> None:
        self.value = value  # None: known to be absent
        self.expires = None if ttl is None else time.monotonic() + ttl

    def live(self) -> bool:
        return self.expires is None or time.monotonic() < self.expires

    def ttl(self) -> float | None:
        return None if self.expires is None else max(self.expires - time.monotonic(), 0.0)


class WriteThroughCache(BaseWrapper):
    """``AsyncKeyValue`` over ``primary``: writes go through, reads are served from memory."""

    def __init__(self, primary: AsyncKeyValue) -> None:
        self.key_value = primary
        self._entries: dict[_Key, _Entry] = {}
        self._generations: dict[_Key, int] = {}
        super().__init__()

    @staticmethod
    def _key(key: str, collection: str | None) -> _Key:
        return (collection or DEFAULT_COLLECTION, key)

    def _written(self, key: _Key) -> None:
        self._entries.pop(key, None)
        self._generations[key] = self._generations.get(key, 0) + 1

    async def ttl(self, key: str, *, collection: str | None = None) -> tuple[dict[str, Any] | None, float | None]:
        slot = self._key(key, collection)
        entry = self._entries.get(slot)
        if entry is not None and entry.live():
            return (None if entry.value is None else dict(entry.value)), entry.ttl()
        generation = self._generations.get(slot, 0)
        value, ttl = await self.key_value.ttl(key=key, collection=collection)
        if self._generations.get(slot, 0) == generation:  # no write while the file store answered
            self._entries[slot] = _Entry(None if value is None else dict(value), ttl)
        return value, ttl

    async def get(self, key: str, *, collection: str | None = None) -> dict[str, Any] | None:
        return (await self.ttl(key, collection=collection))[0]

    async def get_many(self, keys: Sequence[str], *, collection: str | None = None) -> list[dict[str, Any] | None]:
        return [await self.get(key, collection=collection) for key in keys]

    async def ttl_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[dict[str, Any] | None, float | None]]:
        return [await self.ttl(key, collection=collection) for key in keys]

    async def put(
        self, key: str, value: Mapping[str, Any], *, collection: str | None = None, ttl: SupportsFloat | None = None
    ) -> None:
        slot = self._key(key, collection)
        self._written(slot)
        try:
            await self.key_value.put(key=key, value=value, collection=collection, ttl=ttl)
        finally:
            self._written(slot)  # and again: a read that began during the write must not cache

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        for key, value in zip(keys, values, strict=True):
            await self.put(key, value, collection=collection, ttl=ttl)

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        slot = self._key(key, collection)
        self._written(slot)
        try:
            return await self.key_value.delete(key=key, collection=collection)
        finally:
            self._written(slot)

    async def delete_many(self, keys: Sequence[str], *, collection: str | None = None) -> int:
        return sum([await self.delete(key, collection=collection) for key in keys])
