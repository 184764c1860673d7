"""Planned copies (sandbox/copies.py): what a cache hands out on each hit shares nothing mutable with what it keeps."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sandbox.copies import copier, fresh

LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


def containers(value: Any) -> list[int]:
    """The ids of every dict and list in ``value``."""
    if type(value) is dict:
        return [id(value), *(i for item in value.values() for i in containers(item))]
    if type(value) is list:
        return [id(value), *(i for item in value for i in containers(item))]
    return []


@given(JSON)
def test_a_planned_copy_is_fresh_s_copy(value: Any) -> None:
    copy = copier(value)
    for copied in (copy(value), copy(value)):
        assert copied == value == fresh(value)
        assert type(copied) is type(value)
        assert not set(containers(copied)) & set(containers(value))  # no shared dict or list


def test_editing_a_planned_copy_changes_neither_the_original_nor_the_next_copy() -> None:
    kept = {"aud": ["mcp", "account"], "realm_access": {"roles": ["user"]}, "groups": [["staff"]], "sub": "alice"}
    copy = copier(kept)
    first = copy(kept)
    first["aud"].append("evil")
    first["realm_access"]["roles"].append("admin")
    first["groups"][0].append("admins")
    first["sub"] = "mallory"
    assert (
        copy(kept)
        == kept
        == {
            "aud": ["mcp", "account"],
            "realm_access": {"roles": ["user"]},
            "groups": [["staff"]],
            "sub": "alice",
        }
    )


def test_values_that_are_not_json_are_still_copied_whole_by_a_plan() -> None:
    kept = {"tags": {"a"}, "pair": ({"k": "v"},), "leaf": 1}
    copied = copier(kept)(kept)
    copied["tags"].add("b")
    copied["pair"][0]["k"] = "edited"
    assert kept == {"tags": {"a"}, "pair": ({"k": "v"},), "leaf": 1}
