"""Records in Redis, so several processes (sandbox replicas, each embedding the mock IdP)
share sessions, codes, registered clients and admin changes.

A record is a string key ``<prefix><collection>:<key>`` holding its JSON, with Redis's own
TTL; each collection has a sorted set of its keys (scored by first write) so ``keys()``
keeps their order. ``add`` is ``SET NX`` and ``delete`` counts what ``DEL`` removed, so
single use holds across processes. TTLs here are real seconds (a moved IdP clock does not
expire records; the store checks expiry itself where it matters).
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from mock_idp.backing import BackingUnavailable, Value

_TIMEOUT = 5.0  # seconds: a lost Redis is an error, never a hang


class RedisBacking:
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self._redis: redis.Redis = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=_TIMEOUT, socket_connect_timeout=_TIMEOUT
        )

    def ping(self) -> None:
        """Raise :class:`BackingUnavailable` unless Redis answers (checked at start-up)."""
        self._call(self._redis.ping)

    def _name(self, collection: str, key: str) -> str:
        return f"{self.prefix}{collection}:{key}"

    def _index(self, collection: str) -> str:
        return f"{self.prefix}{collection}"

    def _call(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except redis.RedisError as exc:
            raise BackingUnavailable(f"Redis at {self.url}: {exc}") from exc

    def get(self, collection: str, key: str) -> Value | None:
        raw = self._call(self._redis.get, self._name(collection, key))
        return None if raw is None else dict(json.loads(raw))

    def _write(self, collection: str, key: str, value: Value, ttl: float | None, *, only_new: bool) -> bool:
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._name(collection, key), json.dumps(value), px=_ms(ttl), nx=only_new)
        pipe.zadd(self._index(collection), {key: time.time()}, nx=True)
        stored, _ = self._call(pipe.execute)
        return bool(stored)

    def put(self, collection: str, key: str, value: Value, ttl: float | None = None) -> None:
        self._write(collection, key, value, ttl, only_new=False)

    def add(self, collection: str, key: str, value: Value, ttl: float | None = None) -> bool:
        return self._write(collection, key, value, ttl, only_new=True)

    def delete(self, collection: str, key: str) -> bool:
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(self._name(collection, key))
        pipe.zrem(self._index(collection), key)
        removed, _ = self._call(pipe.execute)
        return bool(removed)

    def keys(self, collection: str) -> list[str]:
        keys: list[str] = self._call(self._redis.zrange, self._index(collection), 0, -1)
        if not keys:
            return []
        values = self._call(self._redis.mget, [self._name(collection, key) for key in keys])
        gone = [key for key, value in zip(keys, values, strict=True) if value is None]
        if gone:  # expired by their TTL: drop them from the index too
            self._call(self._redis.zrem, self._index(collection), *gone)
        return [key for key, value in zip(keys, values, strict=True) if value is not None]


def _ms(ttl: float | None) -> int | None:
    return None if ttl is None else max(int(ttl * 1000), 1)
