"""Pure ASGI middleware: every hop the sandbox app serves, seen without disturbing it.

Streaming responses (the MCP server's SSE) pass through untouched: an MCP hop is recorded
at its response start from the status and headers alone, kept raw until its step is read
(``wire.RawCall``). Bodies are kept only where the OAuth story is (form and JSON requests,
JSON responses, the IdP's login page for its session code), and only up to ``MAX_BODY``
bytes (``wire.MAX_MCP_BODY`` for an MCP call).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.limits import READ_BODY, BodyLimits
from sandbox.trace.recorder import Flow
from sandbox.trace.tracer import Tracer, current_flow
from sandbox.trace.wire import (
    MAX_MCP_BODY,
    RawCall,
    build_hop,
    decoded,
    parse_body,
    response_headers,
    wants_body,
)

MAX_BODY = 64 * 1024


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
        # The body limits, just inside, hand on each body they let through in the scope
        # (READ_BODY): an MCP call takes its body from there, not from a second reader.
        self.bodies_in_scope = isinstance(app, BodyLimits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        passing = self._passing(scope, receive, send)
        if passing is None:
            await self.app(scope, receive, send)
            return
        # An MCP call has no flow to hand on, and its context none to hide: most requests set nothing.
        token = current_flow.set(passing.flow) if passing.flow is not current_flow.get() else None
        try:
            await self.app(scope, passing.receive, passing.send)
        finally:
            if token is not None:
                current_flow.reset(token)
            passing.finish()

    def _passing(self, scope: Scope, receive: Receive, send: Send) -> _Exchange | _CallExchange | None:
        """How this request is traced: as an MCP call, as an OAuth hop, or not at all."""
        if scope["type"] != "http" or not self.tracer.recorder.enabled:
            return None
        path = scope["path"]
        if self.classifier.is_mcp(path):
            return _CallExchange(self.tracer, scope, receive, send, capture=not self.bodies_in_scope)
        if self.classifier.traced(path):
            return _Exchange(self.tracer, scope, receive, send)
        return None


class _Exchange:
    """One OAuth request and its response as they pass: the hop they make, finished exactly once."""

    def __init__(self, tracer: Tracer, scope: Scope, receive: Receive, send: Send) -> None:
        self.tracer = tracer
        self._receive, self._send = receive, send
        self.path: str = scope["path"]
        headers = decoded(scope["headers"])
        self.hop = build_hop(
            scope["method"],
            scope.get("scheme", "http"),
            scope.get("root_path", ""),
            self.path,
            scope.get("query_string", b""),
            scope.get("client"),
            headers,
            tracer.recorder.next_seq(),
            time.time(),
        )
        self.content_type = headers.get("content-type", "")
        self.capture_request = wants_body(scope["method"], self.content_type)
        self.request_body = _CappedBody(MAX_BODY)
        self.response_body = _CappedBody(MAX_BODY)
        self.capture_response = False
        self.done = False
        self.started = time.perf_counter()
        self.flow: Flow | None = tracer.begin(self.hop)

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        hop = self.hop
        hop.duration_ms = round((time.perf_counter() - self.started) * 1000, 2)
        if self.capture_request and (request := self.request_body.whole()) is not None:
            hop.form, hop.json = parse_body(self.content_type, request)
        if body := self.response_body.whole():
            response_type = hop.response_headers.get("content-type", "")
            if "json" in response_type:
                hop.response_json = parse_body("json", body)[1]
            elif "html" in response_type:
                hop.response_text = body.decode("utf-8", "replace")
        self.tracer.finish(hop, self.flow)

    async def receive(self) -> Message:
        message = await self._receive()
        if self.capture_request and message["type"] == "http.request":
            self.request_body.add(message.get("body", b""))
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started(message)
        elif message["type"] == "http.response.body" and not self.done:
            if self.capture_response:
                self.response_body.add(message.get("body", b""))
            if not message.get("more_body", False):
                self.finish()
        await self._send(message)

    def response_started(self, message: Message) -> None:
        hop = self.hop
        hop.status = message["status"]
        hop.response_headers = response_headers(message.get("headers", []))
        response_type = hop.response_headers.get("content-type", "")
        self.capture_response = "json" in response_type or (
            "html" in response_type and self.tracer.classifier.wants_html(self.path)
        )


class _CallExchange:
    """An MCP call as it passes: kept raw, recorded at its response start (never waiting on its stream)."""

    flow = None  # a call binds nothing that calls made while serving it would look for

    def __init__(self, tracer: Tracer, scope: Scope, receive: Receive, send: Send, *, capture: bool) -> None:
        self.tracer = tracer
        self.scope = scope
        self._send = send
        self.call = RawCall(scope, tracer.recorder.next_seq(), time.time())
        self.done = False
        self.started = time.perf_counter()
        # The body limits, where they are just inside, hand on the body they read (READ_BODY);
        # else it is captured here as the app reads it.
        self.request_body = _CappedBody(MAX_MCP_BODY) if capture else None
        self.receive: Receive = receive
        if capture:
            self._receive, self.receive = receive, self.capturing_receive

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        call = self.call
        call.elapsed = time.perf_counter() - self.started
        # Set before the body limits call inward, so by the response start; where they refused the
        # body (or the client left), the app saw none, nor does the trace.
        body = self.scope.get(READ_BODY) if self.request_body is None else self.request_body.whole()
        # Held only where a step would show it (JSON or a form, sent to change something), as
        # an OAuth hop's: any other body stays with the app, whatever it holds.
        if body is not None and (len(body) > MAX_MCP_BODY or not call.wants_body()):
            body = None
        call.body = body
        self.tracer.record_call(call)

    async def capturing_receive(self) -> Message:
        message = await self._receive()
        if self.request_body is not None and message["type"] == "http.request":
            self.request_body.add(message.get("body", b""))
        return message

    def send(self, message: Message) -> Awaitable[None]:
        """Not a coroutine of its own: the app awaits the server's send directly, one frame less per message."""
        if message["type"] == "http.response.start" and not self.done:
            self.call.status = message["status"]
            self.call.response_headers = message.get("headers", ())
            self.finish()
        return self._send(message)
