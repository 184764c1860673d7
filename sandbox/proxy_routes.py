"""Guards in front of three of FastMCP's proxy routes, ``/register``, ``/revoke`` and ``/token``.

FastMCP's (and the MCP SDK's) handlers stay as they are; each guard reads the request
body once (bounded), refuses or adjusts it for one reason, and hands the same bytes on.
Each guard is a workaround with a test in tests/security/ that fails once upstream fixes
the cause, so it can then be deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.refresh_errors import RefreshErrorAnswers
from sandbox.replay_detection import TokenEndpoint

MAX_REGISTRATION_BYTES = 64 * 1024
MAX_REDIRECT_URIS = 20
# Revocation requests are a token and a client id; a few KiB is generous.
MAX_REVOCATION_BYTES = 16 * 1024


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, or BodyTooLarge as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then whatever the connection says next."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _with_content_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    return {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}


class RegistrationLimits:
    """``/register``: at most 64 KiB, 20 redirect URIs, and none with a fragment.

    FastMCP 4.2.3 stores whatever the SDK's RegistrationHandler parses (a 1 MB
    ``client_name``, 1 MB of unknown fields, 1000 redirect URIs), and accepts redirect
    URIs with a fragment, which RFC 6749 §3.1.2 forbids. Refusals are RFC 7591 §3.2.2
    error bodies.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, MAX_REGISTRATION_BYTES)
        except BodyTooLarge:
            await _registration_error(
                "invalid_client_metadata", f"registration request is over {MAX_REGISTRATION_BYTES} bytes"
            )(scope, receive, send)
            return
        if problem := redirect_uri_problem(body):
            await _registration_error("invalid_redirect_uri", problem)(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)


def redirect_uri_problem(body: bytes) -> str | None:
    """Why the body's ``redirect_uris`` are refused; None leaves the rest to the SDK's parser."""
    try:
        metadata = json.loads(body)
    except ValueError:
        return None  # not JSON: the SDK's own parser answers with invalid_client_metadata
    uris = metadata.get("redirect_uris") if isinstance(metadata, dict) else None
    if not isinstance(uris, list):
        return None
    if len(uris) > MAX_REDIRECT_URIS:
        return f"at most {MAX_REDIRECT_URIS} redirect_uris, got {len(uris)}"
    for uri in uris:
        if isinstance(uri, str) and "#" in uri:
            return f"redirect URI {uri[:200]!r} has a fragment (RFC 6749 §3.1.2)"
    return None


def _registration_error(error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=400, headers={"Cache-Control": "no-store"}
    )


class PublicClientRevocation:
    """``/revoke`` for public clients, which send no ``client_secret`` (RFC 7009 §2.1, RFC 6749 §2.1).

    The MCP SDK's ``RevocationRequest`` (mcp/server/auth/handlers/revoke.py) declares
    ``client_secret: str | None`` without a default, so pydantic requires the field and a
    public client gets 400 "client_secret: Field required". Every client the proxy
    registers is public (``token_endpoint_auth_method: none``), so none could revoke.
    An absent field is sent on as an empty one, which that model accepts and the
    client authenticator ignores for public clients.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = Headers(scope=scope).get("content-type", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not content_type.startswith("application/x-www-form-urlencoded")
        ):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, MAX_REVOCATION_BYTES)
        except BodyTooLarge:
            response = JSONResponse(
                {
                    "error": "invalid_request",
                    "error_description": f"revocation request is over {MAX_REVOCATION_BYTES} bytes",
                },
                status_code=400,
            )
            await response(scope, receive, send)
            return
        fields = {name for name, _ in parse_qsl(body.decode("latin-1"), keep_blank_values=True)}
        if "client_secret" not in fields:
            body += b"&client_secret=" if body else b"client_secret="
            scope = _with_content_length(scope, len(body))
        await self.app(scope, replay(body, receive), send)


Guard = Callable[[ASGIApp], Any]

# Each path's guards, innermost first.
GUARDS: dict[str, tuple[Guard, ...]] = {
    "/register": (RegistrationLimits,),
    "/revoke": (PublicClientRevocation,),
    # An IdP failing a refresh, answered (sandbox/refresh_errors.py); the request marked as
    # /token's, where a spent token presented again is a replay (sandbox/replay_detection.py).
    "/token": (RefreshErrorAnswers, TokenEndpoint),
}


RouteT = TypeVar("RouteT", bound=BaseRoute)


def guard_routes(routes: list[RouteT], configured: dict[str, Guard] | None = None) -> list[RouteT]:
    """FastMCP's routes, with the guards for each path that has some put in front of it, and
    outermost the ``configured`` one (a guard made from the proxy's settings) for its path."""
    outer = configured or {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        for guard in (*GUARDS.get(route.path, ()), *([outer[route.path]] if route.path in outer else [])):
            route.app = guard(route.app)
    return routes
