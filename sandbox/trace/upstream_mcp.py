"""The proxy->upstream MCP hop (upstream mode), as the proxy makes it.

The upstream is another server, out of the middleware's sight, so the upstream HTTP
client gets event hooks (as the proxy's IdP client does in upstream.py). Only the
request's JSON-RPC method and the response's status and headers are read: the response
is a stream the client is still reading, and must not be buffered here. Every header
sent is shown, masked as usual, so a learner sees exactly which identity went upstream
and that no client token did.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2
from fastmcp.server.dependencies import get_http_request

from sandbox.trace.hops import Hop, Kind
from sandbox.trace.recorder import Flow
from sandbox.trace.tracer import Tracer
from sandbox.trace.upstream import LegResponse

UPSTREAM_MCP = Kind("upstream_mcp", "proxy", "upstream")


class UpstreamMcpHooks:
    """httpx event hooks for the upstream MCP client; ``install`` on each client made."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.on_response = LegResponse(tracer, "sandbox_trace_upstream", lambda hop: UPSTREAM_MCP, read_json=False)

    def install(self, http_client: httpx2.AsyncClient) -> None:
        http_client.event_hooks.setdefault("request", []).append(self.on_request)
        http_client.event_hooks.setdefault("response", []).append(self.on_response)

    def _front_flow(self) -> Flow | None:
        """The flow of the MCP call this hop serves, found by the token that call carried."""
        try:
            authorization = get_http_request().headers.get("authorization", "")
        except RuntimeError:  # no front request: the start-up check
            return None
        if not authorization:
            return None
        return self.tracer.correlator.call_flow(authorization.encode("latin-1"))

    async def on_request(self, request: httpx2.Request) -> None:
        if not self.tracer.recorder.enabled:
            return
        flow = self._front_flow()
        if flow is None:
            return
        try:
            body: Any = json.loads(request.content) if request.content else None
        except (ValueError, UnicodeDecodeError, RuntimeError):  # RuntimeError: a streamed body
            body = None
        hop = Hop(
            method=request.method,
            url=str(request.url),
            path=request.url.path,
            query={},
            headers={k.lower(): v for k, v in request.headers.items()},
            seq=self.tracer.recorder.next_seq(),
            started=time.time(),
            json=body,
        )
        request.extensions["sandbox_trace_upstream"] = (hop, flow, time.perf_counter())
