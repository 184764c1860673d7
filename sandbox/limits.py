"""Every request body the sandbox serves, bounded in size and JSON depth before a route reads it.

FastMCP's routes read bodies without a bound: Starlette's form parser buffers a form of
any size for ``/token`` and ``/consent``, and ``/register`` and ``/mcp`` take any JSON.
One ASGI middleware in front of the app reads the body once, refuses it in the endpoint's
own error format (RFC 7591 at ``/register``, JSON-RPC at ``/mcp``, RFC 6749 elsewhere), and
hands the routes the bytes it read. Starlette's ``RequestBodyLimitMiddleware`` is not used:
it answers in plain text and knows nothing of depth. The bounds are the mock IdP's
(``mock_idp.bodies``); the mounted IdP applies them itself, so its paths pass through.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_idp.bodies import FORM_TYPE, MAX_BODY_BYTES, MAX_JSON_DEPTH, json_too_deep
from mock_idp.digits import parse_decimal

# An MCP message carries tool arguments and results, far larger than any OAuth request.
MAX_MCP_BODY_BYTES = 4 * 1024 * 1024
REGISTER_PATH = "/register"
# Where the body read here is handed on to the layers inside (the step-up gate), so they
# neither read nor replay it again: the complete body, as bytes, whenever the app is called
# with it replayed.
READ_BODY = "sandbox.body"
# JSON-RPC 2.0 §5.1 error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
# Bodies never parsed as JSON (their values may hold brackets of no meaning).
_NOT_JSON = (FORM_TYPE, "multipart/form-data")


class BodyLimits:
    def __init__(self, app: ASGIApp, *, mcp_path: str, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.mcp_path = mcp_path
        self.exempt = tuple(prefix.rstrip("/") + "/" for prefix in exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or (path + "/").startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        limit = MAX_MCP_BODY_BYTES if self._is_mcp(path) else MAX_BODY_BYTES
        declared, content_type = _first_values(scope)
        length = parse_decimal(declared) if declared is not None else None
        if declared is not None and length is None:
            await self._refuse(scope, receive, send, 400, "Invalid Content-Length")
            return
        if length is not None and length > limit:
            await self._refuse(scope, receive, send, 413, f"Request body exceeds {limit} bytes")
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay(message, receive), send)
                return
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > limit:
                await self._refuse(scope, receive, send, 413, f"Request body exceeds {limit} bytes")
                return
        media_type = content_type.split(";", 1)[0].strip().lower()
        data = bytes(body)
        # Starlette's request.json() reads any media type, so depth is checked for all but forms.
        if media_type not in _NOT_JSON and json_too_deep(data):
            await self._refuse(
                scope, receive, send, 400, f"JSON request body nested deeper than {MAX_JSON_DEPTH} levels"
            )
            return
        request: Message = {"type": "http.request", "body": data, "more_body": False}
        scope[READ_BODY] = data
        await self.app(scope, _replay(request, receive), send)

    def _is_mcp(self, path: str) -> bool:
        return path == self.mcp_path or path.startswith(self.mcp_path + "/")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, description: str) -> None:
        path: str = scope["path"]
        if self._is_mcp(path):
            code = INVALID_REQUEST if status == 413 else PARSE_ERROR
            body: dict[str, object] = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": description}}
            response = JSONResponse(body, status_code=status)
        else:
            # RFC 7591 §3.2.2 at the registration endpoint (its errors are all 400), RFC 6749 §5.2 elsewhere.
            registration = path == REGISTER_PATH
            response = JSONResponse(
                {
                    "error": "invalid_client_metadata" if registration else "invalid_request",
                    "error_description": description,
                },
                status_code=400 if registration else status,
                headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
            )
        await response(scope, receive, send)


def _first_values(scope: Scope) -> tuple[str | None, str]:
    """The first Content-Length (None if absent) and Content-Type ("" if absent), as Starlette's
    ``Headers.get`` reads them, in one pass over the raw headers instead of decoding them all twice."""
    length: str | None = None
    content_type: str | None = None
    for name, value in scope["headers"]:
        if name == b"content-length" and length is None:
            length = value.decode("latin-1")
        elif name == b"content-type" and content_type is None:
            content_type = value.decode("latin-1")
    return length, content_type or ""


def _replay(first: Message, receive: Receive) -> Receive:
    """A receive that hands over the message already read, then the client's own messages."""
    pending = [first]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay
