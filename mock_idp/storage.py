"""Which store the mock IdP keeps its state in, by name: ``file`` (the state directory,
the default), ``memory`` (forgets on exit) or ``redis://HOST:PORT/DB`` (shared by every
process given the same URL: sandbox replicas behind one load balancer)."""

from __future__ import annotations

from pathlib import Path

from mock_idp.backing import BackingUnavailable
from mock_idp.backing.journal import JournalBacking, JournalInUse
from mock_idp.backing.memory import MemoryBacking
from mock_idp.clock import Clock
from mock_idp.legacy_state import import_v1
from mock_idp.store import STATE_FILE, Store

KINDS = ("file", "memory", "redis://HOST:PORT/DB")


def is_shared(name: str | None) -> bool:
    """Whether the store ``name`` is one that several processes can share (Redis)."""
    return bool(name) and str(name).startswith(("redis://", "rediss://", "unix://"))


class StoreError(ValueError):
    """A store that cannot be used: one line naming the cause."""


def open_store(name: str | None, state_dir: Path, clock: Clock, realm: str) -> Store:
    """The store ``name`` means for ``realm`` (each realm has its own records)."""
    if name in (None, "", "file"):
        try:
            journal = JournalBacking(state_dir / STATE_FILE, clock, import_v1)
        except JournalInUse as exc:
            raise StoreError(str(exc)) from None
        return Store(clock, journal, MemoryBacking(clock))
    if name == "memory":
        return Store(clock, MemoryBacking(clock))
    if is_shared(name):
        from mock_idp.backing.redis import RedisBacking  # only where asked for: redis-py is a network client

        backing = RedisBacking(name, prefix=f"mock-idp:{realm}:")
        try:
            backing.ping()
        except BackingUnavailable as exc:
            raise StoreError(f"the mock IdP's store is unreachable: {exc}") from None
        return Store(clock, backing, shared=True)
    raise StoreError(f"unknown store {name!r}: expected one of {', '.join(KINDS)}")
