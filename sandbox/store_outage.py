"""A store that went away mid-run (Redis stopped) answers as an outage, never as a 500 page.

The proxy reads its store in FastMCP's auth middleware and in its OAuth routes; a lost Redis
raises out of both. This middleware sits just inside Starlette's error middleware (which
would answer 500 and print a traceback) and answers instead: at ``/mcp`` a JSON-RPC error,
elsewhere RFC 6749's ``temporarily_unavailable`` with 503 and Retry-After. The next request
after Redis is back reconnects (redis-py's pool opens a fresh connection), so recovery needs
nothing from here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mcp.server.auth.provider import AccessToken
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.redis_store import store_outage_errors

if TYPE_CHECKING:
    from fastmcp.server.auth.oidc_proxy import OIDCProxy

log = logging.getLogger("sandbox.store")

RETRY_AFTER_SECONDS = 5
# JSON-RPC's "Internal error": the request was fine, the server could not serve it now.
JSONRPC_INTERNAL_ERROR = -32603
# Read when FastMCP refused a token, to tell "no such token" from "no store".
PROBE_COLLECTION = "sandbox-store-probe"


class StoreOutage:
    """ASGI middleware turning a store outage into the endpoint's own error format."""

    def __init__(self, app: ASGIApp, *, mcp_path: str) -> None:
        self.app = app
        self.mcp_path = mcp_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            cause = outage_cause(exc)
            if cause is None:
                raise
            log.warning("store unavailable for %s %s: %s", scope.get("method"), scope.get("path"), cause)
            if not started:  # a stream already under way can only be cut
                await self._answer(scope, str(cause))(scope, receive, send)

    def _answer(self, scope: Scope, cause: str) -> JSONResponse:
        description = f"the sandbox's store is unavailable ({cause}); retry shortly"
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if scope.get("path", "").rstrip("/") == self.mcp_path:
            body = {"jsonrpc": "2.0", "id": None, "error": {"code": JSONRPC_INTERNAL_ERROR, "message": description}}
            return JSONResponse(body, status_code=503, headers=headers)
        body = {"error": "temporarily_unavailable", "error_description": description}
        return JSONResponse(body, status_code=503, headers=headers)


def outage_cause(exc: BaseException) -> BaseException | None:
    """The store error behind ``exc``: itself, one it was raised from, or one in a task group's group."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    errors = store_outage_errors()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, errors):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend((current.__cause__, current.__context__))
    return None


if TYPE_CHECKING:
    # The mixin's super() is FastMCP's proxy; the checker sees it so, the runtime MRO makes it so.
    _Proxy = OIDCProxy
else:
    _Proxy = object


class StoreOutageTokens(_Proxy):
    """Mixed in before FastMCP's ``OIDCProxy``: a token checked while the store is gone is an
    outage, not an invalid token.

    FastMCP 4.2.3's ``load_access_token`` turns every exception into "not a token"
    (oauth_proxy/proxy.py:2459, ``except Exception: return None``), so a lost Redis answers
    401 invalid_token and tells the client to throw its tokens away and register again.
    Its IdP callback does the same with a 500 page. When it refuses, one read of the store says which it was: the read raises if
    the store is gone (and the middleware above answers 503), or finds nothing. Tokens that
    are accepted cost nothing extra. tests/security/test_store_outage.py FAILS once FastMCP
    lets the error through; delete this then.
    """

    # FastMCP's own signature (proxy.py:2245), which already differs from its base's the same way.
    async def load_access_token(self, token: str) -> AccessToken | None:  # type: ignore[override]
        validated = await super().load_access_token(token)
        if validated is None:
            await self._probe_store()
        return validated

    async def _handle_idp_callback(self, request: Request) -> HTMLResponse | RedirectResponse:
        """Likewise the IdP's callback: FastMCP answers any exception with its 500 page
        (proxy.py:3016, "Internal server error during OAuth callback processing")."""
        response = await super()._handle_idp_callback(request)
        if response.status_code >= 500:
            await self._probe_store()
        return response

    async def _probe_store(self) -> None:
        await self._client_storage.get(key="probe", collection=PROBE_COLLECTION)
