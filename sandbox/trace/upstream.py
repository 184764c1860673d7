"""The proxy<->IdP leg as the proxy itself makes it.

With the in-process mock IdP the proxy's server-side calls come back into the sandbox app
as ``/idp/...`` requests, and the middleware records them (labelled proxy<->IdP by the
caller's client id). An IdP elsewhere (Keycloak) is out of the middleware's sight, so the
proxy's upstream HTTP client gets event hooks instead; calls to the sandbox's own origin
are left to the middleware so nothing is recorded twice.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx2
from fastmcp.server.auth.cimd import CIMDFetcher

from mock_idp.bodies import loads_bounded
from mock_idp.digits import parse_decimal
from sandbox.trace.hops import Hop, Kind, token_kind
from sandbox.trace.recorder import Flow
from sandbox.trace.tracer import Tracer, current_flow


class ClientHooks(Protocol):
    """Event hooks for an HTTP client the sandbox makes calls with (the proxy's, the CIMD fetcher's, upstream MCP)."""

    def install(self, http_client: httpx2.AsyncClient) -> None: ...


def upstream_kind(hop: Hop) -> Kind:
    path = hop.path
    if path.endswith("/token"):
        return token_kind(hop, "proxy", "idp")
    if path.endswith("/revoke"):
        return Kind("upstream_revocation", "proxy", "idp")
    if path.endswith("/certs"):
        return Kind("jwks", "proxy", "idp")
    if "/.well-known/" in path:
        return Kind("upstream_discovery", "proxy", "idp")
    return Kind("other", "proxy", "idp")


def answered(response: httpx2.Response, key: str) -> tuple[Hop, Flow | None] | None:
    """The hop its request hook left under ``key``, with the response's status, headers and duration.

    None when the request hook recorded nothing (a local call, the trace off)."""
    traced = response.request.extensions.get(key)
    if traced is None:
        return None
    hop, flow, started = traced
    hop.status = response.status_code
    hop.response_headers = {k.lower(): v for k, v in response.headers.items()}
    hop.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    return hop, flow


class LegResponse:
    """The response hook of one outgoing leg (proxy -> IdP, proxy -> client document, proxy -> upstream
    MCP): puts the answer on the hop its request hook left in ``request.extensions[extension]``.

    ``read_json``: the IdP's answers are small JSON documents worth showing; the upstream MCP's
    is a stream the client is still reading, which must not be buffered here. ``max_read``: read
    only answers that declare at most this many bytes, where the caller bounds what it reads
    (the CIMD fetcher's 5 KiB): reading first would buffer a 200 MB document before its check.
    """

    def __init__(
        self,
        tracer: Tracer,
        extension: str,
        kind: Callable[[Hop], Kind],
        *,
        read_json: bool,
        max_read: int | None = None,
    ) -> None:
        self.tracer = tracer
        self.extension = extension
        self.kind = kind
        self.read_json = read_json
        self.max_read = max_read

    async def __call__(self, response: httpx2.Response) -> None:
        if (traced := answered(response, self.extension)) is None:
            return
        hop, flow = traced
        if self.read_json and "json" in hop.response_headers.get("content-type", "") and self._small(response):
            await response.aread()
            with contextlib.suppress(ValueError):  # what the trace could not serve back is not kept
                hop.response_json = loads_bounded(response.content)
        self.tracer.finish(hop, flow, self.kind(hop))

    def _small(self, response: httpx2.Response) -> bool:
        if self.max_read is None:
            return True
        declared = parse_decimal(response.headers.get("content-length", ""))
        return declared is not None and declared <= self.max_read


class UpstreamHooks:
    """httpx2 event hooks recording the proxy's calls to an IdP the sandbox does not serve."""

    def kind(self, hop: Hop) -> Kind:
        return upstream_kind(hop)

    def __init__(self, tracer: Tracer, local_origin: str) -> None:
        self.tracer = tracer
        self.local_origin = local_origin.rstrip("/")
        self.on_response = LegResponse(tracer, "sandbox_trace", self.kind, read_json=True)

    def install(self, http_client: httpx2.AsyncClient) -> None:
        hooks = http_client.event_hooks
        hooks.setdefault("request", []).append(self.on_request)
        hooks.setdefault("response", []).append(self.on_response)
        http_client.event_hooks = hooks

    def _local(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return origin == self.local_origin

    async def on_request(self, request: httpx2.Request) -> None:
        url = str(request.url)
        if not self.tracer.recorder.enabled or self._local(url):
            return
        headers = {k.lower(): v for k, v in request.headers.items()}
        content = request.content if hasattr(request, "content") else b""
        form = dict(parse_qsl(content.decode("utf-8", "replace"))) if "form" in headers.get("content-type", "") else {}
        hop = Hop(
            method=request.method,
            url=url,
            path=request.url.path,
            query=dict(parse_qsl(request.url.query.decode())),
            headers=headers,
            seq=self.tracer.recorder.next_seq(),
            started=time.time(),
            form=form,
        )
        request.extensions["sandbox_trace"] = (hop, current_flow.get(), time.perf_counter())


class DocumentFetchHooks(UpstreamHooks):
    """The proxy fetching a client's metadata document: its own hop, proxy -> client."""

    def __init__(self, tracer: Tracer, local_origin: str) -> None:
        super().__init__(tracer, local_origin)
        limit = CIMDFetcher.MAX_RESPONSE_SIZE
        self.on_response = LegResponse(tracer, "sandbox_trace", self.kind, read_json=True, max_read=limit)

    def kind(self, hop: Hop) -> Kind:
        return Kind("cimd_fetch", "proxy", "client")
