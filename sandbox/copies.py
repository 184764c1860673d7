"""Copies of JSON-shaped data (token claims, a trace's decoded JWTs) that no later edit reaches.

``copy.deepcopy``'s memo and dispatch made it most of a cached token's cost (~50 us of an
AccessToken's, issue 17); claims are dicts, lists and immutable leaves, so rebuilding the
containers is the whole copy. Anything else falls back to ``copy.deepcopy``.

A cache copies the same value on every hit, so :func:`copier` plans that copy once: which
entries hold containers is known from the cache's own copy (which nobody edits), and the
rest of each dict or list is copied in one C call instead of one type check per entry.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar, cast

_T = TypeVar("_T")
# Values nothing can edit in place, so a copy may share them.
IMMUTABLE = frozenset({str, int, float, bool, type(None)})

Copy = Callable[[Any], Any]


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


def _same(value: _T) -> _T:
    return value


def copier(value: _T) -> Callable[[_T], _T]:
    """A function copying ``value`` as :func:`fresh` does, planned from ``value`` itself.

    It copies only ``value`` (or an equal value of the very same shape): a cache plans it
    once from its own copy, which it never edits nor hands out, and copies that on each hit.
    """
    return cast(Callable[[_T], _T], _plan(value))


def _plan(value: Any) -> Copy:
    kind = type(value)
    if kind is dict:
        nested = [(key, _plan(item)) for key, item in value.items() if type(item) not in IMMUTABLE]
        if not nested:
            return dict.copy
        return lambda source: _copy_dict(source, nested)
    if kind is list:
        return list.copy if all(type(item) in IMMUTABLE for item in value) else fresh
    if kind in IMMUTABLE:
        return _same
    return copy.deepcopy


def _copy_dict(source: dict[Any, Any], nested: list[tuple[Any, Copy]]) -> dict[Any, Any]:
    copied = source.copy()
    for key, copy_item in nested:
        copied[key] = copy_item(copied[key])
    return copied
