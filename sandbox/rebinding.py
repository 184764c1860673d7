"""DNS-rebinding guard for the whole sandbox app: only its own origin may talk to it.

A web page whose name an attacker re-points at 127.0.0.1 reaches a loopback server with
the attacker's name in ``Host`` (and, for its scripts' requests, in ``Origin``). Nothing in
the sandbox may answer such a request: not /mcp, not the trace (it shows tokens' first
characters), not the embedded IdP's admin API or its x-mock controls. So the check sits
in front of every route, not only FastMCP's /mcp (whose own guard is on as well).

The sandbox is reachable as ``localhost:PORT`` and ``127.0.0.1:PORT`` (it binds IPv4 and
both spellings resolve there); any other Host answers 421 Misdirected Request, any other
Origin 403. Behind a load balancer (``--public-url``) the public URL's host and origin are
accepted too: the balancer forwards the client's Host. Requests without an Origin (server to server, such as the proxy's own calls
to the embedded IdP, or MCP clients outside a browser) pass on the Host check alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

LOOPBACK_NAMES = ("localhost", "127.0.0.1")


def allowed_hosts(port: int, public_url: str | None = None) -> frozenset[str]:
    own = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    return frozenset(own | ({urlsplit(public_url).netloc.lower()} if public_url else set()))


def allowed_origins(port: int, public_url: str | None = None) -> frozenset[str]:
    own = {f"http://{name}:{port}" for name in LOOPBACK_NAMES}
    return frozenset(own | ({public_url.lower()} if public_url else set()))


class RebindingGuard:
    """ASGI middleware refusing a foreign ``Host`` (421) or ``Origin`` (403) before any route runs."""

    def __init__(self, app: ASGIApp, *, port: int, public_url: str | None = None) -> None:
        self.app = app
        self.hosts = allowed_hosts(port, public_url)
        self.origins = allowed_origins(port, public_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # One pass over the raw headers (ASGI names are lower-case bytes), decoded as Starlette's
        # Headers would: this runs before every request, and two getlist() calls decoded every header twice.
        hosts: list[str] = []
        origins: list[str] = []
        for name, value in scope["headers"]:
            if name == b"host":
                hosts.append(value.decode("latin-1"))
            elif name == b"origin":
                origins.append(value.decode("latin-1"))
        if len(hosts) > 1:
            # RFC 9112 §3.2: answered 400. Which one counts differs from reader to reader (this
            # guard read the first, the trace the last), so a second could slip past the check.
            await _refuse(scope, receive, send, 400, "invalid_request", "more than one Host header")
            return
        host = (hosts[0] if hosts else "").strip().lower()
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
        for origin in origins:
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
