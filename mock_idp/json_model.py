"""The realm file's records as plain dataclasses, read from JSON with pydantic's lax rules.

The realm's models were pydantic models, and pydantic's import plus their class construction
was about 60 ms of the standalone mock's ~190 ms cold start (issue 17), for a file of a few
dozen objects. :class:`JsonModel` keeps the subset of pydantic's ``BaseModel`` API the mock
uses (``model_validate``, ``model_dump``, ``model_copy``, ``model_extra``; :func:`fields` for
``model_fields``),
so callers read the same, and reports the same first error pydantic's lax mode reports (the
JSON path, then its message: "Field required", "Input should be a valid string", ...).
Subclasses are ``@dataclass(kw_only=True)``; a field's JSON name is ``metadata=alias(...)``.
Unknown keys are kept in ``model_extra`` (and dumped), so they can be reported, not dropped.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
import typing
from typing import Any, TypeVar, Union

M = TypeVar("M", bound="JsonModel")
# pydantic-core's lax int string (checked against pydantic 2.14): ASCII digits, an underscore
# only between two of them, then optionally "." and zeros only.
_INT_STRING = re.compile(r"([+-]?)([0-9]+(?:_[0-9]+)*)(?:\.0+)?", re.ASCII)
# Significant digits pydantic reads (and Python's int() by default): more is its own error.
_MAX_INT_DIGITS = 4300
# What it trims around one (Rust's Unicode White_Space): str.isspace's, less \x1c-\x1f.
_PYDANTIC_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_BOOL_STRINGS = {
    **dict.fromkeys(("1", "on", "t", "true", "y", "yes"), True),
    **dict.fromkeys(("0", "off", "f", "false", "n", "no"), False),
}


class ValidationError(ValueError):
    """The first problem found: ``loc`` (JSON keys and indexes) and pydantic's message for it."""

    def __init__(self, loc: tuple[int | str, ...], msg: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {msg}")
        self.loc, self.msg = loc, msg

    def errors(self) -> list[dict[str, Any]]:
        return [{"loc": self.loc, "msg": self.msg}]


def alias(name: str) -> dict[str, str]:
    """A field's ``metadata``: its key in the JSON."""
    return {"alias": name}


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    alias: str
    type: Any
    required: bool


@dataclasses.dataclass(kw_only=True)
class JsonModel:
    model_extra: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, metadata={"extra": True})

    @classmethod
    def model_validate(cls: type[M], data: object) -> M:
        return typing.cast(M, _convert(cls, data, ()))

    def model_dump(self, *, by_alias: bool = False, exclude_none: bool = False, mode: str = "python") -> dict[str, Any]:
        """The fields (by JSON name with ``by_alias``) and the kept unknown keys, as plain data
        (JSON values already, so ``mode="json"`` is the same)."""
        dumped = {
            (info.alias if by_alias else name): _dump(getattr(self, name), by_alias, exclude_none)
            for name, info in fields(type(self)).items()
        }
        dumped |= _dump(self.model_extra, by_alias, exclude_none)
        return {k: v for k, v in dumped.items() if v is not None} if exclude_none else dumped

    def model_copy(self: M, *, update: dict[str, Any] | None = None, deep: bool = False) -> M:
        """A copy with ``update`` set as given, unvalidated (as pydantic's)."""
        copied = copy.deepcopy(self) if deep else copy.copy(self)
        for name, value in (update or {}).items():
            setattr(copied, name, value)
        return copied


_FIELDS: dict[type[JsonModel], dict[str, FieldInfo]] = {}


def fields(cls: type[JsonModel]) -> dict[str, FieldInfo]:
    """A model's fields (pydantic's ``model_fields``), by attribute name; resolved at first use,
    since the annotations are strings until then."""
    known = _FIELDS.get(cls)
    if known is not None:
        return known
    hints = typing.get_type_hints(cls)
    known = _FIELDS[cls] = {
        f.name: FieldInfo(
            f.metadata.get("alias", f.name),
            hints[f.name],
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if not f.metadata.get("extra")
    }
    return known


def _convert(kind: Any, value: object, loc: tuple[int | str, ...]) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _convert(inner, value, loc)
    if isinstance(kind, type) and issubclass(kind, JsonModel):
        return _model(kind, value, loc)
    if origin is list:
        if not isinstance(value, list):
            raise ValidationError(loc, "Input should be a valid list")
        return [_convert(args[0], item, (*loc, index)) for index, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValidationError(loc, "Input should be a valid dictionary")
        return {key: _convert(args[1], item, (*loc, key)) for key, item in value.items()}
    return _scalar(kind, value, loc)


def _model(kind: type[JsonModel], value: object, loc: tuple[int | str, ...]) -> JsonModel:
    if isinstance(value, kind):
        return value
    if not isinstance(value, dict):
        raise ValidationError(loc, f"Input should be a valid dictionary or instance of {kind.__name__}")
    known, given = set(), {}
    for name, info in fields(kind).items():
        key = info.alias if info.alias in value else name  # populate_by_name, as the models had
        known.add(key)
        if key in value:
            given[name] = _convert(info.type, value[key], (*loc, info.alias))
        elif info.required:
            raise ValidationError((*loc, info.alias), "Field required")
    extra = {key: item for key, item in value.items() if key not in known}
    return kind(**given, model_extra=extra)


def _scalar(kind: Any, value: object, loc: tuple[int | str, ...]) -> Any:
    if kind is str:
        if isinstance(value, str):
            return value
        raise ValidationError(loc, "Input should be a valid string")
    if kind is bool:
        return _bool(value, loc)
    if kind is int:
        return _int(value, loc)
    if kind is Any:
        return value
    raise TypeError(f"{kind!r}: no JSON conversion")  # a model declared with a type this module lacks


def _bool(value: object, loc: tuple[int | str, ...]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.lower()]
    # pydantic's wording: a fractional number is no boolean at all; 2 or 2.0 is one it cannot read.
    unable = isinstance(value, (str, int)) or (isinstance(value, float) and value.is_integer())
    raise ValidationError(loc, "Input should be a valid boolean" + (", unable to interpret input" if unable else ""))


def _int(value: object, loc: tuple[int | str, ...]) -> int:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValidationError(loc, "Input should be a valid integer, got a number with a fractional part")
    if isinstance(value, str):
        return _int_string(value, loc)
    raise ValidationError(loc, "Input should be a valid integer")


def _int_string(text: str, loc: tuple[int | str, ...]) -> int:
    """``"12"``, ``" +12 "``, ``"1_000"``, ``"12.00"`` -> the int, as pydantic parses them.

    Not ``int()``/``float()``: they also read ``"1e3"`` and non-ASCII digits (``"\u0661\u0662"``),
    which pydantic rejects. (Its odd "0-1" -> -1, a sign after leading zeros, is not copied.)"""
    match = _INT_STRING.fullmatch(text.strip(_PYDANTIC_WHITESPACE))
    if match is None:
        raise ValidationError(loc, "Input should be a valid integer, unable to parse string as an integer")
    sign, digits = match[1], match[2].replace("_", "").lstrip("0") or "0"
    if len(digits) > _MAX_INT_DIGITS:  # int() would raise ValueError past its limit
        raise ValidationError(loc, "Unable to parse input string as an integer, exceeded maximum size")
    return int(sign + digits)


def _dump(value: Any, by_alias: bool, exclude_none: bool) -> Any:
    """``value`` as plain data. A loop over lists and dicts, not recursion: an unknown key's or
    an ``Any`` field's value may nest past Python's recursion limit (pydantic dumped it in Rust);
    only a model recurses, as deep as the models nest."""
    pending: list[tuple[Any, Any]] = []

    def copied(item: Any) -> Any:
        if isinstance(item, JsonModel):
            return item.model_dump(by_alias=by_alias, exclude_none=exclude_none)
        if isinstance(item, (list, dict)):
            target: Any = [] if isinstance(item, list) else {}  # filled below, after its parent
            pending.append((item, target))
            return target
        return item

    result = copied(value)
    while pending:
        source, target = pending.pop()
        if isinstance(source, list):
            target.extend([copied(item) for item in source])
        else:
            target.update({key: copied(item) for key, item in source.items()})
    return result
