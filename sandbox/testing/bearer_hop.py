"""A reverse proxy that adds ``Authorization: Bearer <token>`` to every request, for MCP
clients with no OAuth of their own (the conformance suite): the token comes from a real
sign-in, the client talks to this hop, and the hop streams both ways without buffering."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse

# Hop-by-hop headers (RFC 9110 section 7.6.1) and the ones httpx sets itself.
HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length", "authorization"}
)


class BearerHop:
    """ASGI app: ``target`` is the origin to forward to (scheme://host:port)."""

    def __init__(self, target: str, token: str) -> None:
        self.target = target.rstrip("/")
        self.token = token
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, read=None))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_HEADERS]
        headers.append(("authorization", f"Bearer {self.token}"))
        url = self.target + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        upstream = self.client.build_request(request.method, url, headers=headers, content=request.stream())
        answer = await self.client.send(upstream, stream=True)

        async def body() -> AsyncIterator[bytes]:
            async for chunk in answer.aiter_raw():
                yield chunk

        response_headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        response = StreamingResponse(
            body(), status_code=answer.status_code, headers=response_headers, background=BackgroundTask(answer.aclose)
        )
        await response(scope, receive, send)
