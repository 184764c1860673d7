"""Pure ASGI middleware: every hop the sandbox app serves, seen without disturbing it.

Streaming responses (the MCP server's SSE) pass through untouched: an MCP hop is recorded
at its response start from the status and headers alone. Bodies are kept only where the
OAuth story is (form and JSON requests, JSON responses, the IdP's login page for its
session code), and only up to ``MAX_BODY`` bytes.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_idp.bodies import loads_bounded
from sandbox.trace.hops import Hop
from sandbox.trace.tracer import Tracer, current_flow

MAX_BODY = 64 * 1024
MAX_MCP_BODY = 4 * 1024
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
        path: str = scope["path"]
        is_mcp = self.classifier.is_mcp(path)
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        host = headers.get("host", "")
        client = scope.get("client")
        hop = Hop(
            method=scope["method"],
            url=f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{path}"
            + (f"?{query}" if query else ""),
            path=path,
            query=dict(parse_qsl(query, keep_blank_values=True)) if query else {},
            headers=headers,
            seq=self.tracer.recorder.next_seq(),
            started=time.time(),
            peer=f"{client[0]}:{client[1]}" if client else "",
        )
        content_type = headers.get("content-type", "")
        capture_request = scope["method"] in ("POST", "PUT", "DELETE") and (
            "form" in content_type or "json" in content_type
        )
        request_body = _CappedBody(MAX_MCP_BODY if is_mcp else MAX_BODY)
        response_body = _CappedBody(MAX_BODY)
        state = {"capture": False, "done": False}
        started = time.perf_counter()
        flow = None if is_mcp else self.tracer.begin(hop)

        def finish() -> None:
            if state["done"]:
                return
            state["done"] = True
            hop.duration_ms = round((time.perf_counter() - started) * 1000, 2)
            if capture_request and (body := request_body.whole()) is not None:
                hop.form, hop.json = _parse_body(content_type, body)
            if body := response_body.whole():
                response_type = hop.response_headers.get("content-type", "")
                if "json" in response_type:
                    hop.response_json = _parse_body("json", body)[1]
                elif "html" in response_type:
                    hop.response_text = body.decode("utf-8", "replace")
            self.tracer.finish(hop, flow)

        async def traced_receive() -> Message:
            message = await receive()
            if capture_request and message["type"] == "http.request":
                request_body.add(message.get("body", b""))
            return message

        async def traced_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                hop.status = message["status"]
                hop.response_headers = {
                    key.decode("latin-1").lower(): value.decode("latin-1")
                    for key, value in message.get("headers", [])
                    if key.lower() in CAPTURED_RESPONSE_HEADERS
                }
                if is_mcp:
                    finish()  # never wait on a stream
                else:
                    response_type = hop.response_headers.get("content-type", "")
                    state["capture"] = "json" in response_type or (
                        "html" in response_type and self.classifier.wants_html(path)
                    )
            elif message["type"] == "http.response.body" and not state["done"]:
                if state["capture"]:
                    response_body.add(message.get("body", b""))
                if not message.get("more_body", False):
                    finish()
            await send(message)

        token = current_flow.set(flow)
        try:
            await self.app(scope, traced_receive, traced_send)
        finally:
            current_flow.reset(token)
            finish()
