"""A hop read off the ASGI wire: its URL, headers, query and body decoded from the scope's bytes.

The middleware reads an OAuth hop at once. An MCP call (one on every tool call, its step
rarely read) is kept as the wire gave it, a ``RawCall``, and read only when its step is first
shown: all a call costs on its way through is what correlation needs, its Authorization value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.types import Scope

from mock_idp.bodies import loads_bounded
from sandbox.trace.hops import Hop
from sandbox.trace.tracer import SHOWN_REQUEST_HEADERS

if TYPE_CHECKING:
    from sandbox.trace.recorder import Step

MAX_MCP_BODY = 4 * 1024
# What an MCP call's step shows, with what its hop needs (the URL's host, the body's type): a
# call keeps no other header, so no cookie waits in the history.
CALL_HEADERS = frozenset(name.encode() for name in (*SHOWN_REQUEST_HEADERS, "host", "content-type"))
CAPTURED_RESPONSE_HEADERS = frozenset(
    {b"www-authenticate", b"location", b"content-type", b"mcp-session-id", b"set-cookie"}
)


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], Any]:
    """A request body as (form fields, JSON value); neither where it is neither (or is malformed)."""
    if not body:
        return {}, None
    try:
        if "application/x-www-form-urlencoded" in content_type:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), None
        if "json" in content_type:
            # Bounded: a RecursionError here would abort a response already under way.
            return {}, loads_bounded(body)
    except (ValueError, UnicodeDecodeError):
        pass
    return {}, None


def wants_body(method: str, content_type: str) -> bool:
    """The request bodies worth keeping: forms and JSON sent to change something."""
    return method in ("POST", "PUT", "DELETE") and ("form" in content_type or "json" in content_type)


def decoded(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers as HTTP's latin-1 (their names lower-case already: the ASGI server's rule)."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in headers}


def response_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The response headers a step may show, names lower-cased: an app need not send them so."""
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in headers
        if name.lower() in CAPTURED_RESPONSE_HEADERS
    }


def build_hop(
    method: str,
    scheme: str,
    root_path: str,
    path: str,
    query_string: bytes,
    client: tuple[str, int] | None,
    headers: dict[str, str],
    seq: int,
    started: float,
) -> Hop:
    """The hop of a request as the ASGI scope gave its parts (``headers`` already decoded)."""
    query = query_string.decode("latin-1")
    return Hop(
        method=method,
        url=f"{scheme}://{headers.get('host', '')}{root_path}{path}" + (f"?{query}" if query else ""),
        path=path,
        query=dict(parse_qsl(query, keep_blank_values=True)) if query else {},
        headers=headers,
        seq=seq,
        started=started,
        peer=f"{client[0]}:{client[1]}" if client else "",
    )


class RawCall:
    """An MCP call as it passed, bytes and all, until its step is read (``hop``).

    Kept: the ``CALL_HEADERS``, the body (at most ``MAX_MCP_BODY``), and the response's status
    and headers as the app sent them (the server's own few, as before, not counted in
    ``held_bytes``, what the history keeps of a client's). Called, it renders its step with the
    ``renderer`` the tracer gave it (one shared callable: a call holds no closure of its own).
    """

    __slots__ = (
        "authorization",
        "body",
        "client",
        "elapsed",
        "headers",
        "method",
        "path",
        "query_string",
        "renderer",
        "response_headers",
        "root_path",
        "scheme",
        "seq",
        "started",
        "status",
    )

    def __init__(self, scope: Scope, seq: int, started: float) -> None:
        self.method: str = scope["method"]
        self.scheme: str = scope.get("scheme", "http")
        self.root_path: str = scope.get("root_path", "")
        self.path: str = scope["path"]
        self.query_string: bytes = scope.get("query_string", b"")
        self.client: tuple[str, int] | None = scope.get("client")
        self.headers = {name: value for name, value in scope["headers"] if name in CALL_HEADERS}
        self.authorization = self.headers.get(b"authorization")
        self.seq = seq
        self.started = started
        self.body: bytes | None = None
        self.status: int | None = None
        self.response_headers: Iterable[tuple[bytes, bytes]] = ()
        self.elapsed = 0.0  # seconds to the response start
        self.renderer: Callable[[RawCall], Step] | None = None

    def __call__(self) -> Step:
        if self.renderer is None:
            raise RuntimeError("a RawCall renders with the renderer its tracer gives it")
        return self.renderer(self)

    def held_bytes(self) -> int:
        """What this call keeps of the client's until read: its body, its headers, and its query
        twice over (as sent, and parsed; a query string can be ~60 KB)."""
        return len(self.body or b"") + sum(map(len, self.headers.values())) + 2 * len(self.query_string)

    def wants_body(self) -> bool:
        """Whether its body is one a step shows (``wants_body``, as for any hop)."""
        return wants_body(self.method, self.headers.get(b"content-type", b"").decode("latin-1"))

    def hop(self, *, with_body: bool = True) -> Hop:
        """The hop the middleware would have built at once: headers decoded, URL, query and (unless
        ``with_body`` is false) body parsed."""
        headers = decoded(self.headers.items())
        hop = build_hop(
            self.method,
            self.scheme,
            self.root_path,
            self.path,
            self.query_string,
            self.client,
            headers,
            self.seq,
            self.started,
        )
        hop.status, hop.duration_ms = self.status, round(self.elapsed * 1000, 2)
        hop.response_headers = response_headers(self.response_headers)
        content_type = headers.get("content-type", "")
        if with_body and self.body is not None and wants_body(self.method, content_type):
            hop.form, hop.json = parse_body(content_type, self.body)
        return hop
