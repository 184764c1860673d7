"""Mock-control request bodies as pydantic models with ``extra="forbid"``: an unknown field,
a wrong type or an out-of-range value is a :class:`~mock_idp.errors.SpecError` naming the
field (400 over HTTP), for the ``x-mock`` API and the Python methods behind it alike."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mock_idp.errors import SpecError

MAX_LIFETIME = 10 * 365 * 86400
MAX_CLOCK_STEP = 100 * 365 * 86400
M = TypeVar("M", bound=BaseModel)

Lifetime = Annotated[int, Field(strict=True, ge=1, le=MAX_LIFETIME)]
Seconds = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class Body(BaseModel):
    # defer_build: the validators are built at a body's first use, not at every start-up.
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class ClaimsBody(Body):
    claims: dict[str, Any]


class LifetimesBody(Body):
    access_token: Lifetime | None = None
    refresh_token: Lifetime | None = None  # the SSO session idle timeout
    code: Lifetime | None = None


class ClockStep(Body):
    seconds: Annotated[Seconds, Field(ge=-MAX_CLOCK_STEP, le=MAX_CLOCK_STEP)]


class Rotation(Body):
    keep_old: bool = True
    grace_seconds: Annotated[Seconds, Field(ge=0, le=MAX_LIFETIME)] = 300


_HINTS = {
    "extra_forbidden": "unknown field",
    "missing": "required",
}


def parse(model: type[M], data: object) -> M:
    """``data`` as ``model``; the first problem is a SpecError naming its field."""
    if not isinstance(data, dict):
        raise SpecError("body", "must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"] if not isinstance(part, int)) or "body"
        expected = ", ".join(model.model_fields)
        hint = _HINTS.get(error["type"])
        message = f"{hint}; expected some of {expected}" if hint else str(error["msg"])
        raise SpecError(field, message) from None
