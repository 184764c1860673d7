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

The cache is bounded, because misses are cached and anyone can make the proxy read a key
(``GET /authorize?client_id=<random>`` reads the client store): at most ``max_entries``
entries, the least recently used evicted first; a cached miss lives ``MISS_TTL`` seconds; a
key's generation is kept only while a read of it is in flight. What it caches and hands out
are copies (``sandbox.copies``: each entry's copy planned once, when it is cached), so a
caller editing a nested list of what it read (FastMCP's session visibility rules) changes
no later read.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, SupportsFloat

from key_value.aio.protocols import AsyncKeyValue
from key_value.aio.wrappers.base import BaseWrapper

from sandbox.copies import copier, fresh
from sandbox.token_watch import answered_afresh, answered_from_memory

DEFAULT_COLLECTION = "default"
# A few thousand keeps a busy sandbox's token records and clients hot, in a few MB at most.
MAX_ENTRIES = 4096
# Short, so that random keys cannot pile up, long enough to keep a revocation lookup's miss hot.
MISS_TTL = 30.0

_Key = tuple[str, str]


class _Entry:
    __slots__ = ("copy", "expires", "value")

    def __init__(self, value: dict[str, Any] | None, ttl: float | None) -> None:
        self.value = value  # None: known to be absent; else the cache's own copy, never handed out
        self.copy = copier(value)  # what each read is given: a copy of it (sandbox/copies.py)
        self.expires = None if ttl is None else time.monotonic() + ttl

    def live(self) -> bool:
        return self.expires is None or time.monotonic() < self.expires

    def ttl(self) -> float | None:
        return None if self.expires is None else max(self.expires - time.monotonic(), 0.0)


class _Reads:
    """The reads of one key awaiting the primary, and the writes to it since the first began."""

    __slots__ = ("count", "generation")

    def __init__(self) -> None:
        self.count = 0
        self.generation = 0


class WriteThroughCache(BaseWrapper):
    """``AsyncKeyValue`` over ``primary``: writes go through, reads are served from memory."""

    def __init__(self, primary: AsyncKeyValue, *, max_entries: int = MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.key_value = primary
        self.max_entries = max_entries
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._reads: dict[_Key, _Reads] = {}
        super().__init__()

    def __len__(self) -> int:
        """How many answers (misses included) are cached."""
        return len(self._entries)

    def reads_in_flight(self) -> int:
        """How many keys have a read awaiting the primary (each holds a generation until it ends)."""
        return len(self._reads)

    @staticmethod
    def _key(key: str, collection: str | None) -> _Key:
        return (collection or DEFAULT_COLLECTION, key)

    def _written(self, key: _Key) -> None:
        self._entries.pop(key, None)
        reads = self._reads.get(key)
        if reads is not None:  # no read in flight: nothing could cache what the write replaces
            reads.generation += 1

    def _cached(self, key: _Key) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not entry.live():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def _still_cached(self, key: _Key, entry: _Entry) -> bool:
        """Whether ``entry`` is still what a read of ``key`` is answered with (read as a read is)."""
        return self._cached(key) is entry

    def _fill(self, key: _Key, value: dict[str, Any] | None, ttl: float | None) -> None:
        self._entries[key] = _Entry(None, MISS_TTL) if value is None else _Entry(fresh(value), ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def ttl(self, key: str, *, collection: str | None = None) -> tuple[dict[str, Any] | None, float | None]:
        slot = self._key(key, collection)
        entry = self._cached(slot)
        if entry is not None:
            # For a token check being watched (sandbox/token_watch.py): this answer stands
            # while this very entry does; any write or delete of the key drops it. Checked as
            # a read is, so an answer given again keeps its entries recently used.
            answered_from_memory(self._still_cached, slot, entry)
            return (None, None) if entry.value is None else (entry.copy(entry.value), entry.ttl())
        answered_afresh()
        reads = self._reads.setdefault(slot, _Reads())
        reads.count += 1
        generation = reads.generation
        try:
            value, ttl = await self.key_value.ttl(key=key, collection=collection)
        finally:
            reads.count -= 1
            if reads.count == 0:
                del self._reads[slot]
        if reads.generation == generation:  # no write while the primary answered
            self._fill(slot, value, ttl)
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
