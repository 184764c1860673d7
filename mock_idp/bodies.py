"""Bounded, strict request-body parsing: bad input becomes an OAuthError, never a 500.

The size and depth bounds here are the project's one definition of them: the sandbox's
own body limits (sandbox/limits.py) and the flow trace use the same ones.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from mock_idp.digits import parse_decimal
from mock_idp.errors import OAuthError, body_too_large, invalid_request

if (
    TYPE_CHECKING
):  # only as a type: the standalone mock reads its realm file and answers its documents without Starlette
    from starlette.requests import Request

MAX_BODY_BYTES = 64 * 1024
# Python's json recurses once per level and dies near the interpreter's 1000-frame limit,
# minus the frames a request already stands on; no OAuth or admin document nests past a
# handful. (Keycloak's Jackson refuses 1000 levels; both refuse the ~3000 an attacker sends.)
MAX_JSON_DEPTH = 64
FORM_TYPE = "application/x-www-form-urlencoded"
# The only bytes that change JSON nesting or string state; everything else is skipped.
_JSON_STRUCTURE = re.compile(rb'[\\"\[\]{}]')
# A \u escape of a UTF-16 surrogate, paired or not.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read at most ``limit`` bytes; 413 as soon as the body (or its declared length) exceeds it."""
    declared = request.headers.get("content-length")
    length = parse_decimal(declared) if declared is not None else None
    if declared is not None and (length is None or length > limit):
        raise invalid_request("Invalid Content-Length") if length is None else body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_form(request: Request, *, other_types_empty: bool = False) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict.

    Repeated parameters are rejected (RFC 6749 §3.1: "MUST NOT be included
    more than once"). ``other_types_empty``: another media type carries no parameters,
    as at Keycloak's token endpoints, which then name the first one missing ("Missing
    form parameter: grant_type"); otherwise it is an error."""
    body = await read_body(request)
    if _media_type(request) != FORM_TYPE:
        if other_types_empty:
            return {}
        raise invalid_request(f"Content-Type must be {FORM_TYPE}")
    return parse_params(body)


def parse_params(body: bytes | str) -> dict[str, str]:
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise invalid_request("Request parameters are not valid UTF-8") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise invalid_request(f"Duplicated parameter: {key}")
        if "\x00" in key or "\x00" in value:
            raise invalid_request(f"Invalid parameter: {key}")
        params[key] = value
    return params


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Do arrays and objects in ``body`` nest deeper than ``limit``?

    Counted with a flat scan, not a parse, so the check cannot itself recurse; brackets
    inside strings do not count. Invalid JSON is answered too: the parser rejects it next.
    """
    # Each level opens with a bracket: a body with no more of them than the limit cannot be
    # too deep, and counting them is C-fast, where the scan is a Python loop (every request).
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    in_string = False
    escaped_at = -1
    for match in _JSON_STRUCTURE.finditer(body):
        at = match.start()
        if at == escaped_at:
            continue
        char = body[at : at + 1]
        if in_string:
            if char == b"\\":
                escaped_at = at + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in b"[{":
            depth += 1
            if depth > limit:
                return True
        elif char in b"]}":
            depth -= 1
    return False


class TooDeep(ValueError):
    """JSON nested past ``MAX_JSON_DEPTH``: refused before the parser could recurse."""


def loads_bounded(body: bytes) -> Any:
    """``json.loads`` that refuses with a ValueError what no JSON reader downstream survives.

    Deep nesting (TooDeep, never a RecursionError). ``NaN`` and ``Infinity``, which Python
    accepts and RFC 8259 §6 does not, nor numbers past a double's range (``1e999``): they came back out of the trace as a 500 (Starlette's
    JSONResponse refuses them), and Keycloak's Jackson refuses them too. A lone surrogate
    escape (``"\\ud800"``), which no UTF-8 encoder writes back: a client registered with one
    was stored, then every answer naming it was a 500.
    """
    if json_too_deep(body):
        raise TooDeep(f"nested deeper than {MAX_JSON_DEPTH} levels")
    value = json.loads(body.decode("utf-8"), parse_constant=_not_json, parse_float=_finite)
    if _SURROGATE_ESCAPE.search(body):  # rare: check the strings only then
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError (a ValueError) if lone
    return value


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number (RFC 8259 §6)")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: Python reads it as inf, which JSON cannot write back
        raise ValueError(f"{text[:40]} is out of range for a JSON number")
    return value


async def read_json(request: Request, error: str = "invalid_request") -> Any:
    body = await read_body(request)
    if _media_type(request) != "application/json":
        raise OAuthError(error, "Content-Type must be application/json")
    try:
        return loads_bounded(body)
    except TooDeep as exc:
        raise OAuthError(error, f"JSON request body {exc}") from None
    except (UnicodeDecodeError, ValueError):
        raise OAuthError(error, "Malformed JSON request body") from None


async def read_json_object(request: Request, error: str = "invalid_client_metadata") -> dict[str, Any]:
    data = await read_json(request, error)
    if not isinstance(data, dict):
        raise OAuthError(error, "Request body must be a JSON object")
    return data
