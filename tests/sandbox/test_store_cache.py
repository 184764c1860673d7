"""The proxy store's write-through cache: fast reads, and nothing a write did is undone or lost."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from key_value.aio.stores.memory import MemoryStore
from key_value.aio.wrappers.base import BaseWrapper

from sandbox import store_cache
from sandbox.state import SIGN_IN_COLLECTIONS, StateDir
from sandbox.store_cache import WriteThroughCache
from sandbox.tools import create_sample_server


class SlowStore(BaseWrapper):
    """A store whose reads await for a while (as the file store's worker threads do), and counts them."""

    def __init__(self) -> None:
        self.key_value = MemoryStore()
        self.reads = 0
        self.read_started = asyncio.Event()
        self.release = asyncio.Event()
        super().__init__()

    async def ttl(self, key: str, *, collection: str | None = None) -> tuple[dict[str, Any] | None, float | None]:
        self.reads += 1
        answer = await self.key_value.ttl(key=key, collection=collection)
        self.read_started.set()
        await self.release.wait()
        return answer


async def test_repeated_reads_and_misses_are_answered_from_memory() -> None:
    slow = SlowStore()
    slow.release.set()
    cache = WriteThroughCache(slow)
    await cache.put("code", {"v": 1})
    assert [await cache.get("code") for _ in range(3)] == [{"v": 1}] * 3
    assert [await cache.get("revoked-jti", collection="revoked") for _ in range(3)] == [None] * 3
    assert slow.reads == 2  # one per key, the miss included


async def test_a_delete_during_a_missing_read_is_not_undone() -> None:
    # py-key-value-aio 0.5.0's PassthroughCacheWrapper re-caches the value here: a redeemed code returns.
    slow = SlowStore()
    cache = WriteThroughCache(slow)
    await slow.key_value.put(key="code", value={"v": 1})
    reading = asyncio.create_task(cache.get("code"))
    await slow.read_started.wait()
    assert await cache.delete("code")
    slow.release.set()
    assert await reading == {"v": 1}  # what the read saw before the delete
    assert await cache.get("code") is None
    assert await slow.key_value.get(key="code") is None


async def test_a_put_during_a_missing_read_wins() -> None:
    slow = SlowStore()
    cache = WriteThroughCache(slow)
    reading = asyncio.create_task(cache.get("key"))
    await slow.read_started.wait()
    await cache.put("key", {"v": 2})
    slow.release.set()
    assert await reading is None
    assert await cache.get("key") == {"v": 2}


async def test_entries_expire_with_the_ttl_they_were_written_with() -> None:
    slow = SlowStore()
    slow.release.set()
    cache = WriteThroughCache(slow)
    await cache.put("short", {"v": 1}, ttl=0.05)
    assert await cache.get("short") == {"v": 1}
    await asyncio.sleep(0.1)
    assert await cache.get("short") is None


async def test_the_sandbox_store_keeps_every_write_across_a_restart(tmp_path: Path) -> None:
    first = StateDir(tmp_path).client_storage("file")
    assert isinstance(first, WriteThroughCache)
    await first.get("client", collection="clients")  # a cached miss ...
    await first.put("client", {"name": "kept"}, collection="clients")  # ... that a write replaces
    await first.put("gone", {"name": "deleted"}, collection="clients")
    await first.get("gone", collection="clients")
    await first.delete("gone", collection="clients")
    restarted = StateDir(tmp_path).client_storage("file")  # a new process: an empty cache
    assert await restarted.get("client", collection="clients") == {"name": "kept"}
    assert await restarted.get("gone", collection="clients") is None


async def test_sign_ins_under_way_stay_in_memory_and_what_clients_hold_goes_to_disk(tmp_path: Path) -> None:
    store = StateDir(tmp_path).client_storage("file")
    for collection in SIGN_IN_COLLECTIONS:
        await store.put("in-flight", {"state": "s"}, collection=collection)
        assert await store.get("in-flight", collection=collection) == {"state": "s"}
    await store.put("client", {"name": "kept"}, collection="mcp-oauth-proxy-clients")
    collections_on_disk = [path.name for path in (tmp_path / "proxy-store").iterdir() if path.is_dir()]
    assert len(collections_on_disk) == 1 and "oauth_proxy_clients" in collections_on_disk[0], collections_on_disk
    restarted = StateDir(tmp_path).client_storage("file")
    assert await restarted.get("client", collection="mcp-oauth-proxy-clients") == {"name": "kept"}
    assert [await restarted.get("in-flight", collection=c) for c in SIGN_IN_COLLECTIONS] == [None] * 3


async def test_the_memory_store_is_read_from_the_cache_and_deletes_at_once(tmp_path: Path) -> None:
    store = StateDir(tmp_path).client_storage("memory")
    assert isinstance(store, WriteThroughCache)
    assert await store.get("jti", collection="sandbox-revoked-access-tokens") is None  # a cached miss ...
    await store.put("jti", {"revoked_at": 1.0}, collection="sandbox-revoked-access-tokens")
    assert await store.get("jti", collection="sandbox-revoked-access-tokens") == {"revoked_at": 1.0}  # ... replaced
    await store.put("grant", {"token": "t"})
    await store.delete("grant")
    assert await store.get("grant") is None


async def test_the_sample_server_s_session_state_is_read_from_the_cache() -> None:
    # FastMCP reads each authenticated session's visibility rules from this store on every call.
    server = create_sample_server({"mcp_url": "", "upstream_client_id": "", "realm_url": "", "callback_url": ""})
    assert isinstance(server._state_storage, WriteThroughCache)
    assert await server._state_store.get(key="session:_visibility_rules") is None


async def test_distinct_missing_keys_leave_the_cache_bounded() -> None:
    # GET /authorize?client_id=<random>, repeated: each a miss of the client store, from anyone.
    slow = SlowStore()
    slow.release.set()
    cache = WriteThroughCache(slow, max_entries=8)
    for n in range(100):
        assert await cache.get(f"random-{n}", collection="clients") is None
        await cache.put(f"written-{n}", {"n": n})
    assert len(cache) <= 8


async def test_writes_keep_a_generation_only_while_a_read_is_in_flight() -> None:
    slow = SlowStore()
    cache = WriteThroughCache(slow)
    reading = asyncio.create_task(cache.get("read"))
    await slow.read_started.wait()
    for n in range(100):
        await cache.put(f"written-{n}", {"n": n})
        await cache.delete(f"written-{n}")
    assert cache.reads_in_flight() == 1  # the read of "read", none for the keys written
    slow.release.set()
    assert await reading is None
    assert cache.reads_in_flight() == 0


async def test_an_evicted_entry_is_read_again_from_the_primary() -> None:
    slow = SlowStore()
    slow.release.set()
    cache = WriteThroughCache(slow, max_entries=2)
    await cache.put("a", {"v": "a"})
    await cache.put("b", {"v": "b"})
    await cache.put("c", {"v": "c"})
    assert [await cache.get(k) for k in ("a", "b", "a", "c")] == [{"v": "a"}, {"v": "b"}, {"v": "a"}, {"v": "c"}]
    assert slow.reads == 3  # "a" was used more recently than "b": "b" was evicted
    assert await cache.get("b") == {"v": "b"}  # read again, and "a" evicted in its turn
    assert await cache.get("c") == {"v": "c"}
    assert slow.reads == 4
    assert len(cache) == 2


async def test_a_cached_miss_lives_a_short_while(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = SlowStore()
    slow.release.set()
    cache = WriteThroughCache(slow)
    await cache.put("token", {"v": 1}, ttl=3600)
    assert await cache.get("missing") is None
    assert await cache.get("token") == {"v": 1}
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + store_cache.MISS_TTL + 1)  # no timers pending
    assert await cache.get("missing") is None
    assert await cache.get("token") == {"v": 1}
    assert slow.reads == 3  # the miss was read again, the value kept its hour


async def test_nested_values_read_and_edited_reach_no_later_read() -> None:
    # FastMCP's session visibility rules are a list inside the value it reads on every call.
    primary = MemoryStore()
    cache = WriteThroughCache(primary)
    await cache.put("session", {"rules": [{"tag": "a"}], "meta": {"n": 1}})
    first = await cache.get("session")
    assert first is not None
    first["rules"].append({"tag": "b"})
    first["meta"]["n"] = 2
    second = await cache.get("session")
    assert second == {"rules": [{"tag": "a"}], "meta": {"n": 1}}
    second["rules"][0]["tag"] = "z"
    value, _ = await cache.ttl("session")
    assert value == {"rules": [{"tag": "a"}], "meta": {"n": 1}}
    assert await primary.get(key="session") == {"rules": [{"tag": "a"}], "meta": {"n": 1}}
