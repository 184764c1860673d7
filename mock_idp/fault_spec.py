"""The body of ``POST x-mock/faults``, a pydantic model imported at the first fault armed
(by :meth:`mock_idp.faults.Fault.from_spec`), not at start-up."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from mock_idp.faults import KINDS, MAX_DELAY_SECONDS
from mock_idp.typed_bodies import Body

Text = Annotated[str, Field(min_length=1, max_length=1000)]


class FaultSpec(Body):
    """The body of ``POST x-mock/faults`` (and ``idp.add_fault``'s keywords)."""

    endpoint: str | None = None  # where it fires; behaviour kinds have a default
    kind: str
    status: Annotated[int, Field(ge=400, le=599)] | None = None  # an HTTP error status
    error: Text | None = None  # the OAuth error code of an oauth_error fault
    error_description: Text | None = None
    delay_seconds: Annotated[float, Field(gt=0, le=MAX_DELAY_SECONDS, allow_inf_nan=False)] | None = None
    times: Annotated[int, Field(ge=1)] | None = 1  # one-shot: 1; null: until removed

    @field_validator("kind")
    @classmethod
    def _known(cls, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"must be one of {', '.join(KINDS)}")
        return kind
