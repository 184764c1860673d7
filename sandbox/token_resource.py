"""``/token``: a ``resource`` naming another server is refused, as ``/authorize`` refuses it (RFC 8707 §2).

FastMCP 4.2.3 checks the resource indicator at /authorize ("Resource does not match this
server", oauth_proxy/proxy.py:1200) and ignores it at /token: a code redeemed or a token
refreshed with ``resource=https://evil.example/mcp`` got 200 and a token for this server,
which the client would then hand to evil.example. RFC 8707 §2 has the server refuse a
resource it cannot issue for with ``invalid_target``; here it is compared as FastMCP
compares it at /authorize. tests/security/test_proxy_upstream_defects.py FAILS once FastMCP
checks it at /token too; delete this then.
"""

from __future__ import annotations

from fastmcp.server.auth.identity_assertion import normalize_resource_url, server_url_has_query
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_idp.bodies import MAX_BODY_BYTES
from sandbox.proxy_routes import BodyTooLarge, read_body, replay

# The grants whose tokens are this server's; FastMCP's ID-JAG grant checks its own audience.
CHECKED_GRANTS = frozenset({"authorization_code", "refresh_token"})


def matches(requested: str, server: str) -> bool:
    """FastMCP's /authorize comparison (proxy.py:1204-1212): exact where the server's URL has a query."""
    if server_url_has_query(server):
        return requested.rstrip("/") == server.rstrip("/")
    return normalize_resource_url(requested) == normalize_resource_url(server)


class TokenResource:
    """Reads the form as the SDK's TokenHandler then reads it (Starlette's ``request.form()``, then
    ``dict``: any form media type, in any case, multipart too; a repeated field's last value), so
    no request the handler answers passes here unchecked."""

    def __init__(self, app: ASGIApp, resource_url: str) -> None:
        self.app = app
        self.resource_url = resource_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, MAX_BODY_BYTES)
        except BodyTooLarge:  # the body limits in front refuse these first; the SDK's handler says why
            body = b""
        if problem := await self._problem(scope, body, receive):
            response = JSONResponse(
                {"error": "invalid_target", "error_description": problem},
                status_code=400,
                headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)

    async def _problem(self, scope: Scope, body: bytes, receive: Receive) -> str | None:
        try:
            form = await Request(scope, replay(body, receive)).form()
        except (MultiPartException, ValueError):  # unreadable: the SDK's handler answers invalid_request
            return None
        try:
            if dict(form).get("grant_type") not in CHECKED_GRANTS:
                return None
            wrong = [v for v in form.getlist("resource") if not isinstance(v, str) or not matches(v, self.resource_url)]
        finally:
            await form.close()
        if not wrong:
            return None
        named = wrong[0] if isinstance(wrong[0], str) else "(a file)"
        return f"resource {named[:200]!r} is not this server ({self.resource_url})"
