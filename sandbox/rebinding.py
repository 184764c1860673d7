"""DNS-rebinding guard for the whole sandbox app: only its own origin may talk to it.

A web page whose name an attacker re-points at 127.0.0.1 reaches a loopback server with
the attacker's name in ``Host`` (and, for its scripts' requests, in ``Origin``). Nothing in
the sandbox may answer such a request: not /mcp, not the trace (it shows tokens' first
characters), not the embedded IdP's admin API or its x-mock controls. So the check sits
in front of every route, not only FastMCP's /mcp (whose own guard is on as well).

The sandbox is reachable as ``localhost:PORT`` and ``127.0.0.1:PORT`` (it binds IPv4 and
both spellings resolve there); any other Host answers 421 Misdirected Request, any other
Origin 403. Requests without an Origin (server to server, such as the proxy's own calls
to the embedded IdP, or MCP clients outside a browser) pass on the Host check alone.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

LOOPBACK_NAMES = ("localhost", "127.0.0.1")


def allowed_hosts(port: int) -> frozenset[str]:
    return frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES)


def allowed_origins(port: int) -> frozenset[str]:
    return frozenset(f"http://{host}" for host in allowed_hosts(port))


class RebindingGuard:
    """ASGI middleware refusing a foreign ``Host`` (421) or ``Origin`` (403) before any route runs."""

    def __init__(self, app: ASGIApp, *, port: int) -> None:
        self.app = app
        self.hosts = allowed_hosts(port)
        self.origins = allowed_origins(port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "").strip().lower()
        if host not in self.hosts:
            await _refuse(
                scope,
                receive,
                send,
                421,
                "misdirected_request",
                f"Host {host!r} is not this sandbox (it answers to {', '.join(sorted(self.hosts))} only)",
            )
            return
        # Every Origin header counts, so a second one cannot smuggle a foreign origin past the first.
        for origin in headers.getlist("origin"):
            if origin.strip().lower().rstrip("/") not in self.origins:
                await _refuse(
                    scope,
                    receive,
                    send,
                    403,
                    "forbidden_origin",
                    f"Origin {origin!r} may not call this sandbox (only {', '.join(sorted(self.origins))})",
                )
                return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, error: str, description: str) -> None:
    if scope["type"] == "websocket":
        # Closing before the handshake is accepted makes the server answer it with 403.
        await WebSocketClose(code=1008, reason=error)(scope, receive, send)
        return
    await JSONResponse({"error": error, "error_description": description}, status_code=status)(scope, receive, send)
