"""Copies of JSON-shaped data (token claims, a trace's decoded JWTs) that no later edit reaches.

``copy.deepcopy``'s memo and dispatch made it most of a cached token's cost (~50 us of an
AccessToken's, issue 17); claims are dicts, lists and immutable leaves, so rebuilding the
containers is the whole copy. Anything else falls back to ``copy.deepcopy``.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar, cast

_T = TypeVar("_T")
# Values nothing can edit in place, so a copy may share them.
IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def fresh(value: _T) -> _T:
    """``value`` with every dict and list rebuilt; immutable leaves shared, anything else deep-copied."""
    kind = type(value)
    if kind is dict:
        items = cast(dict[Any, Any], value).items()
        return cast(_T, {key: item if type(item) in IMMUTABLE else fresh(item) for key, item in items})
    if kind is list:
        return cast(_T, [item if type(item) in IMMUTABLE else fresh(item) for item in cast(list[Any], value)])
    if kind in IMMUTABLE:
        return value
    return copy.deepcopy(value)
