"""The one parser of ``Authorization: Bearer <token>`` (RFC 6750 §2.1) for the mock IdP."""

from __future__ import annotations

from starlette.datastructures import Headers


def bearer_token(headers: Headers) -> str | None:
    """The token of a Bearer ``Authorization`` header (the scheme in any case), else None."""
    header = headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    return token or None
