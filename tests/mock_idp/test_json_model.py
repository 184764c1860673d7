"""The realm's records read JSON as the pydantic models they replaced did (mock_idp/json_model.py).

Each realm model is compared with a pydantic twin built from its own field list (same names,
aliases, types and defaults; extra="allow", populate_by_name), on realm documents with a value
put at a random place: the same first error (JSON path and message), or the same dump. So a
realm file that pydantic refused or accepted is refused or accepted the same, with the same
line, and this fails if pydantic's wording drifts from the mock's other (pydantic) bodies.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import operator
import re
import types
import typing
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_idp.json_model import JsonModel, ValidationError, fields
from mock_idp.realm import Realm

BASE: dict[str, Any] = {
    "realm": "r",
    "accessTokenLifespan": 60,
    "revokeRefreshToken": False,
    "roles": {"realm": [{"name": "a", "composite": True, "composites": {"realm": ["b"]}}]},
    "defaultDefaultClientScopes": ["s"],
    "users": [
        {"username": "u", "email": "u@x", "credentials": [{"type": "password", "value": "p"}], "realmRoles": ["a"]}
    ],
    "clients": [
        {
            "clientId": "c",
            "publicClient": True,
            "description": "d",
            "optionalClientScopes": ["s"],
            "redirectUris": ["http://localhost/cb"],
            "attributes": {"pkce.code.challenge.method": "S256"},
            "protocolMappers": [{"name": "m", "protocolMapper": "oidc-audience-mapper", "config": {"k": "v"}}],
        }
    ],
    "clientScopes": [{"name": "s", "attributes": {"include.in.token.scope": "true"}, "protocolMappers": []}],
    "components": {
        "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy": [
            {"name": "p", "providerId": "max-clients", "config": {"max-clients": ["3"]}}
        ]
    },
}
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-2, 2)
    | st.sampled_from(["", "x", "true", "No", "7", "1.0", " 2 "]),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["name", "k", "type"]), inner, max_size=2)
    ),
    max_leaves=4,
)
_twins: dict[type[JsonModel], type[pydantic.BaseModel]] = {}


def twin(model: type[JsonModel]) -> type[pydantic.BaseModel]:
    """A pydantic model with ``model``'s fields, as the realm's models were declared."""
    if model not in _twins:
        declared = {f.name: f for f in dataclasses.fields(model)}
        definitions: dict[str, Any] = {}
        for name, info in fields(model).items():
            spec = declared[name]
            default: Any = (
                pydantic.Field(default_factory=_twin_factory(spec.default_factory), alias=info.alias)
                if spec.default_factory is not dataclasses.MISSING
                else pydantic.Field(alias=info.alias)
                if info.required
                else pydantic.Field(spec.default, alias=info.alias)
            )
            definitions[name] = (_twin_type(info.type), default)
        config = pydantic.ConfigDict(extra="allow", populate_by_name=True)
        _twins[model] = pydantic.create_model(model.__name__, __config__=config, **definitions)
    return _twins[model]


def _twin_factory(factory: Any) -> Any:
    return twin(factory) if isinstance(factory, type) and issubclass(factory, JsonModel) else factory


def _twin_type(kind: Any) -> Any:
    if isinstance(kind, type) and issubclass(kind, JsonModel):
        return twin(kind)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is None:
        return kind
    twinned = tuple(_twin_type(arg) for arg in args)
    return functools.reduce(operator.or_, twinned) if origin in (typing.Union, types.UnionType) else origin[twinned]


def paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        found += paths(child, (*path, key))
    return found


PATHS = paths(BASE)[1:]


def outcome(read: Any, error: type[Exception], doc: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", read(doc).model_dump(by_alias=True, exclude_none=True)
    except error as exc:
        first = exc.errors()[0]  # type: ignore[attr-defined]
        return "error", (tuple(first["loc"]), first["msg"])


def mutated(path: tuple[Any, ...], value: Any, delete: bool) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), JSON_VALUES, st.booleans())
def test_reads_a_realm_as_pydantic_did(path: tuple[Any, ...], value: Any, delete: bool) -> None:
    doc = mutated(path, value, delete)
    ours = outcome(Realm.model_validate, ValidationError, doc)
    assert ours == outcome(twin(Realm).model_validate, pydantic.ValidationError, doc)


def test_the_base_document_reads_and_errors_name_their_place() -> None:
    assert outcome(Realm.model_validate, ValidationError, BASE)[0] == "ok"
    bad = mutated(("users", 0, "credentials", 0, "value"), 5, False)
    assert outcome(Realm.model_validate, ValidationError, bad) == (
        "error",
        (("users", 0, "credentials", 0, "value"), "Input should be a valid string"),
    )


def test_unknown_keys_are_kept_and_dumped() -> None:
    realm = Realm.model_validate({**BASE, "bruteForceProtected": True})
    user = realm.users["u"]
    assert realm.model_extra == {"bruteForceProtected": True}
    assert realm.model_dump(by_alias=True)["bruteForceProtected"] is True
    copied = user.model_copy(update={"realm_roles": []})
    assert copied.realm_roles == [] and user.realm_roles == ["a"]


INT_STRINGS = [
    "1e3",
    "\u0661\u0662",
    "\uff11\uff12",
    "12.",
    "12.00",
    " -1_0.0 ",
    "1__0",
    "_1",
    "1_",
    "12.0_0",
    "\xa012\u3000",
    "\x1c12",
]
INT_ALPHABET = "0123456789_.+-e \t\xa0\x1c\u2003\u0661"


@pytest.mark.parametrize("text", INT_STRINGS, ids=lambda text: repr(text)[:16])
def test_an_integer_string_reads_as_pydantic_read_it(text: str) -> None:
    # int()/float() read "1e3" and non-ASCII digits; pydantic's lax int does not.
    doc = {**BASE, "accessTokenLifespan": text}
    assert outcome(Realm.model_validate, ValidationError, doc) == outcome(
        twin(Realm).model_validate, pydantic.ValidationError, doc
    )


@settings(max_examples=500, deadline=None)
@given(st.text(INT_ALPHABET, max_size=8).filter(lambda text: not re.search(r"[0-9_][+-]", text)))
def test_any_integer_like_string_reads_as_pydantic_read_it(text: str) -> None:
    # Less pydantic-core's quirk of a sign after leading zeros ("0-1" is -1 to it), not copied.
    doc = {**BASE, "accessTokenLifespan": text}
    assert outcome(Realm.model_validate, ValidationError, doc) == outcome(
        twin(Realm).model_validate, pydantic.ValidationError, doc
    )


def test_a_deeply_nested_unknown_field_dumps() -> None:
    # copy.deepcopy recursed per level and raised RecursionError ~600 levels down.
    deep: list[Any] = []
    leaf = deep
    for _ in range(5000):
        leaf.append([])
        leaf = leaf[0]
    leaf.append("bottom")
    realm = Realm.model_validate({**BASE, "x-deep": deep, "clients": [{**BASE["clients"][0], "x-deep": deep}]})
    for dumped in (realm.model_dump(by_alias=True)["x-deep"], realm.model_dump(by_alias=True)["clients"][0]["x-deep"]):
        assert dumped is not deep
        for _ in range(5000):
            (dumped,) = dumped
        assert dumped == ["bottom"]
