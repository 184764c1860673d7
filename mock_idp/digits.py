"""Decimal numbers from the wire (Content-Length, max_age, a trace revision), parsed safely.

``str.isdigit`` is True for digits ``int`` refuses ("²"), and ``int`` refuses strings past
4,300 digits (CPython's guard against quadratic conversion) with a ValueError that turned
into a 500. Leading zeros are legal in all of these, so a short value can be long.
"""

from __future__ import annotations

# Past every length, age and revision this project meets; what is larger reads as this.
CAP = 10**18


def parse_decimal(text: str) -> int | None:
    """``text`` as a non-negative int (capped at CAP), or None if it is not ASCII digits only."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    significant = text.lstrip("0")
    return CAP if len(significant) > len(str(CAP)) else min(int(significant or "0"), CAP)
