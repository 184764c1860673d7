"""The one source of "now" for the mock IdP.

Every expiry check and every ``iat``/``exp`` goes through :class:`Clock`, so a
test (or the ``x-mock/clock`` control API) can move time without patching ``time.time``.
"""

from __future__ import annotations

import time


class Clock:
    """Wall-clock seconds since the epoch, plus an adjustable offset."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset

    def now_int(self) -> int:
        return int(self.now())

    def advance(self, seconds: float) -> None:
        """Move time forward (expire codes and tokens without sleeping)."""
        self.offset += seconds

    def reset(self) -> None:
        """Back to real time."""
        self.offset = 0.0
