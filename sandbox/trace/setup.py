"""Wire the flow trace into a sandbox app: recorder, middleware, upstream hooks, routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastmcp.server.auth import AuthProvider
from starlette.applications import Starlette

from sandbox.backends import Upstream
from sandbox.cimd import LoopbackCIMDFetcher
from sandbox.proxy import SandboxOIDCProxy
from sandbox.settings import SandboxSettings
from sandbox.trace.correlate import Correlator
from sandbox.trace.hops import Classifier
from sandbox.trace.middleware import TraceMiddleware
from sandbox.trace.recorder import FlowRecorder
from sandbox.trace.tracer import Tracer
from sandbox.trace.upstream import DocumentFetchHooks, UpstreamHooks
from sandbox.trace.upstream_mcp import UpstreamMcpHooks
from sandbox.trace.views import trace_routes

if TYPE_CHECKING:
    from sandbox.upstream.server import IdentityHttpClients


def install_trace(
    app: Starlette,
    settings: SandboxSettings,
    upstream: Upstream,
    upstream_client_id: str,
    auth: AuthProvider | None,
    upstream_mcp_clients: IdentityHttpClients | None = None,
) -> FlowRecorder:
    """Add the trace to ``app``; call before the root mount (its routes would be shadowed)."""
    recorder = FlowRecorder(max_flows=settings.trace_history, mode=settings.mode, enabled=settings.trace)
    # The in-process IdP's URLs, as the sandbox app sees them (None when the IdP runs elsewhere).
    realm_url = upstream.realm_url
    idp_prefix = realm_url[len(settings.base_url) :] if realm_url.startswith(settings.base_url + "/") else None
    proxy_client = upstream_client_id if settings.mode == "proxy" else ""
    classifier = Classifier(mode=settings.mode, idp_prefix=idp_prefix, upstream_client_id=proxy_client)
    tracer = Tracer(recorder, classifier, Correlator(recorder, upstream_client_id=proxy_client))
    if settings.trace:
        app.add_middleware(TraceMiddleware, tracer=tracer)
        if isinstance(auth, SandboxOIDCProxy):  # not in native-dcr mode, where clients go to the IdP
            auth.trace_hooks = UpstreamHooks(tracer, settings.base_url)
            if isinstance(fetcher := auth.cimd_fetcher, LoopbackCIMDFetcher):
                fetcher.trace_hooks = DocumentFetchHooks(tracer, settings.base_url)
        if upstream_mcp_clients is not None:  # upstream mode: the proxy's calls to the MCP server behind it
            upstream_mcp_clients.trace_hooks = UpstreamMcpHooks(tracer)
    replica = f"{settings.host}:{settings.port}" if settings.public_url else None
    app.router.routes.extend(trace_routes(recorder, replica=replica))
    app.state.trace = recorder
    return recorder
