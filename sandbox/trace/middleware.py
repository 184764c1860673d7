"""Pure ASGI middleware: every hop the sandbox app serves, seen without disturbing it.

Streaming responses (the MCP server's SSE) pass through untouched: an MCP hop is recorded
at its response start from the status and headers alone. Bodies are kept only where the
OAuth story is (form and JSON requests, JSON responses, the IdP's login page for its
session code), and only up to ``MAX_BODY`` bytes.
"""

from __future__ import annotations

import functools
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_idp.bodies import loads_bounded
from sandbox.trace.hops import Hop
from sandbox.trace.tracer import SHOWN_REQUEST_HEADERS, Tracer, current_flow

MAX_BODY = 64 * 1024
MAX_MCP_BODY = 4 * 1024
# What an MCP hop's step shows, with what the middleware needs (the URL's host, the body's type).
MCP_HEADERS = frozenset(name.encode() for name in (*SHOWN_REQUEST_HEADERS, "host", "content-type"))
CAPTURED_RESPONSE_HEADERS = frozenset(
    {b"www-authenticate", b"location", b"content-type", b"mcp-session-id", b"set-cookie"}
)


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], Any]:
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


def _parse_request(hop: Hop, content_type: str, body: bytes | None) -> None:
    if body is not None:
        hop.form, hop.json = _parse_body(content_type, body)


class _CappedBody:
    """A body kept whole or not at all: a truncated JSON body would mislead."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.over_limit = False
        self._data = bytearray()

    def add(self, chunk: bytes) -> None:
        if self.over_limit:
            return
        if len(self._data) + len(chunk) > self.limit:
            self.over_limit = True
            self._data.clear()
        else:
            self._data.extend(chunk)

    def whole(self) -> bytes | None:
        return None if self.over_limit else bytes(self._data)


class TraceMiddleware:
    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer
        self.classifier = tracer.classifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.tracer.recorder.enabled or not self.classifier.traced(scope["path"]):
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(self.tracer, scope)
        token = current_flow.set(exchange.flow)
        try:
            await self.app(scope, exchange.receiving(receive), exchange.sending(send))
        finally:
            current_flow.reset(token)
            exchange.finish()


def _hop(scope: Scope, headers: dict[str, str], seq: int) -> Hop:
    path: str = scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    client = scope.get("client")
    return Hop(
        method=scope["method"],
        url=f"{scope.get('scheme', 'http')}://{headers.get('host', '')}{scope.get('root_path', '')}{path}"
        + (f"?{query}" if query else ""),
        path=path,
        query=dict(parse_qsl(query, keep_blank_values=True)) if query else {},
        headers=headers,
        seq=seq,
        started=time.time(),
        peer=f"{client[0]}:{client[1]}" if client else "",
    )


class _Exchange:
    """One request and its response as they pass: the hop they make, finished exactly once."""

    def __init__(self, tracer: Tracer, scope: Scope) -> None:
        self.tracer = tracer
        self.path: str = scope["path"]
        self.is_mcp = tracer.classifier.is_mcp(self.path)
        raw = scope["headers"]
        if self.is_mcp:  # an MCP hop's step shows these alone (tracer.SHOWN_REQUEST_HEADERS): decode no others
            raw = [(key, value) for key, value in raw if key in MCP_HEADERS]
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in raw}
        self.hop = _hop(scope, headers, tracer.recorder.next_seq())
        self.content_type = headers.get("content-type", "")
        self.capture_request = scope["method"] in ("POST", "PUT", "DELETE") and (
            "form" in self.content_type or "json" in self.content_type
        )
        self.request_body = _CappedBody(MAX_MCP_BODY if self.is_mcp else MAX_BODY)
        self.response_body = _CappedBody(MAX_BODY)
        self.capture_response = False
        self.done = False
        self.started = time.perf_counter()
        self.flow = None if self.is_mcp else tracer.begin(self.hop)

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        hop = self.hop
        hop.duration_ms = round((time.perf_counter() - self.started) * 1000, 2)
        request = self.request_body.whole() if self.capture_request else None
        if self.is_mcp:
            # Its response is a stream (never captured); its body is parsed only if its step is read.
            parse = functools.partial(_parse_request, hop, self.content_type, request)
            self.tracer.finish(hop, self.flow, request_body=parse, body_size=len(request or b""))
            return
        _parse_request(hop, self.content_type, request)
        if body := self.response_body.whole():
            response_type = hop.response_headers.get("content-type", "")
            if "json" in response_type:
                hop.response_json = _parse_body("json", body)[1]
            elif "html" in response_type:
                hop.response_text = body.decode("utf-8", "replace")
        self.tracer.finish(hop, self.flow)

    def receiving(self, receive: Receive) -> Receive:
        async def traced_receive() -> Message:
            message = await receive()
            if self.capture_request and message["type"] == "http.request":
                self.request_body.add(message.get("body", b""))
            return message

        return traced_receive

    def sending(self, send: Send) -> Send:
        async def traced_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.response_started(message)
            elif message["type"] == "http.response.body" and not self.done:
                if self.capture_response:
                    self.response_body.add(message.get("body", b""))
                if not message.get("more_body", False):
                    self.finish()
            await send(message)

        return traced_send

    def response_started(self, message: Message) -> None:
        hop = self.hop
        hop.status = message["status"]
        hop.response_headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in message.get("headers", [])
            if key.lower() in CAPTURED_RESPONSE_HEADERS
        }
        if self.is_mcp:
            self.finish()  # never wait on a stream
        else:
            response_type = hop.response_headers.get("content-type", "")
            self.capture_response = "json" in response_type or (
                "html" in response_type and self.tracer.classifier.wants_html(self.path)
            )
