"""What a token check was answered from, told by the sources that answered it from memory.

The store's write-through cache (sandbox/store_cache.py) and the upstream token verifier
(sandbox/verified_tokens.py) answer most reads from memory. While a check runs inside
:func:`watching`, each tells the watch what its answer holds on (a ``Check``), or that it
answered from outside memory; sandbox/accepted_tokens.py then knows whether the check's
answer can be given again and for how long. Outside a watch, telling costs one lookup.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# True while what an answer was given from still stands.
Check = Callable[[], bool]


class Watch:
    """What one check of a token was answered from, collected while it runs."""

    __slots__ = ("checks", "from_memory", "upstream_verified")

    def __init__(self) -> None:
        self.checks: list[Check] = []
        self.from_memory = True  # no read went past memory
        self.upstream_verified = False  # the upstream token's verification was one of them

    @property
    def rememberable(self) -> bool:
        return self.from_memory and self.upstream_verified and bool(self.checks)


_watch: contextvars.ContextVar[Watch | None] = contextvars.ContextVar("sandbox_token_watch", default=None)


def answered_from_memory(check: Callable[..., bool], *args: object, upstream_verification: bool = False) -> None:
    """Told by a source that answered from memory: its answer holds while ``check(*args)`` does.
    The check is bound only inside a watch: outside one (most reads) telling allocates nothing."""
    watch = _watch.get()
    if watch is not None:
        watch.checks.append(functools.partial(check, *args) if args else check)
        watch.upstream_verified |= upstream_verification


def answered_afresh() -> None:
    """Told by a source that answered from outside memory: nothing watched can be remembered."""
    watch = _watch.get()
    if watch is not None:
        watch.from_memory = False


@contextmanager
def watching() -> Iterator[Watch]:
    """Collect what the checks made inside this block were answered from."""
    watch = Watch()
    reset = _watch.set(watch)
    try:
        yield watch
    finally:
        _watch.reset(reset)
