"""The sandbox as one Starlette app: landing page, health, the mock IdP and the protected MCP server.

Starlette's, not FastAPI's: no handler here takes a body or typed parameters, and FastAPI's
import and route analysis were a twelfth of the sandbox's start-up CPU (issue 17).
Route order matters: everything FastMCP serves (``/mcp`` and the proxy's OAuth routes)
is mounted at ``/`` last, because routes declared after a root mount are shadowed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastmcp import FastMCP
from fastmcp.server.auth import AuthProvider, RemoteAuthProvider
from fastmcp.server.http import StarletteWithLifespan
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from sandbox import landing
from sandbox.backends import Backend, Upstream
from sandbox.backends.factory import create_backend
from sandbox.enterprise import provision_enterprise_client
from sandbox.limits import BodyLimits
from sandbox.mcp_route import McpRoute, mcp_route_first
from sandbox.native import REQUESTED_SCOPES, build_native_provider
from sandbox.proxy import CALLBACK_PATH, CLIENT_REDIRECT_PATTERNS, SCOPES, SandboxOIDCProxy, build_proxy
from sandbox.rebinding import RebindingGuard
from sandbox.redis_store import REDIS_SCHEMES, ensure_reachable, redacted
from sandbox.replica import ReplicaHeader
from sandbox.served_realm import RealmFile, read_realm
from sandbox.serverspec import load_server
from sandbox.settings import SandboxSettings
from sandbox.state import StateDir
from sandbox.stepup import StepUpGate
from sandbox.store_outage import StoreOutage
from sandbox.tools import SCOPED_TOOLS, create_sample_server
from sandbox.trace.setup import install_trace
from sandbox.trust_store import load_in_background
from sandbox.upstream.setup import UpstreamMode, prepare_upstream

PROTECTED_RESOURCE_METADATA = "/.well-known/oauth-protected-resource"
MCP_PATH = "/mcp"


@dataclass
class Sandbox:
    """What a running sandbox is made of; kept on ``app.state.sandbox`` for pages and tests."""

    settings: SandboxSettings
    realm: RealmFile
    backend: Backend
    upstream: Upstream
    oauth_config: dict[str, Any]


def create_app(settings: SandboxSettings | None = None, *, server: FastMCP | None = None) -> Starlette:
    """Build the stack. ``server`` replaces the sample tools with your own FastMCP server."""
    settings = settings or SandboxSettings()
    load_in_background()  # for the proxy's JWKS client, made below, and the plugin's sign-ins
    if server is None and settings.server:
        # Before anything starts: a bad spec should not cost a Keycloak boot.
        server = load_server(settings.server)
    # Likewise: an upstream that does not answer initialize stops start-up here.
    upstream_mode = prepare_upstream(settings) if server is None else None
    if upstream_mode is not None:
        server = upstream_mode.server
    if settings.store.startswith(REDIS_SCHEMES):
        ensure_reachable(settings.store)  # before a Keycloak boot, like the checks above
    state = StateDir(settings.state_dir, secret_file=settings.state_secret_file)
    realm = read_realm(settings.realm_file, settings.base_url)
    client_id, client_secret = realm.upstream_client(settings.upstream_client_id)
    backend = create_backend(settings, realm, state)
    upstream = backend.start()
    try:
        oauth_config = public_oauth_config(settings, backend, upstream, client_id)
        mcp = server or create_sample_server(oauth_config)
        auth: RemoteAuthProvider | SandboxOIDCProxy
        if settings.mode == "native-dcr":
            auth = build_native_provider(settings, upstream)
        else:
            auth = build_proxy(
                settings,
                upstream,
                client_id,
                client_secret,
                storage=state.client_storage(settings.store),
                signing_key=state.proxy_secret(),
                consent_key=state.consent_cookie_key(),
            )
        mcp.auth = auth
        mcp_app = _mcp_app(settings, mcp)
    except BaseException:
        backend.stop()
        raise
    sandbox = Sandbox(settings, realm, backend, upstream, oauth_config)
    app = Starlette(lifespan=_lifespan(sandbox, auth, mcp_app, upstream_mode))
    app.state.sandbox = sandbox
    app.state.upstream_mode = upstream_mode
    _add_pages(app, sandbox)
    _add_layers(app, sandbox, mcp, auth, mcp_app, client_id, upstream_mode, own_server=server is not None)
    if isinstance(auth, SandboxOIDCProxy):
        auth.make_idp_client_in_background()  # now that the trace's hooks are on the proxy
    return app


def _mcp_app(settings: SandboxSettings, mcp: FastMCP) -> StarletteWithLifespan:
    """FastMCP's app for ``/mcp`` and the proxy's routes, guarded as the sandbox needs."""
    # No second Host/Origin guard (FastMCP's host_origin_protection): the app-wide
    # RebindingGuard in front of every route, /mcp included, is the stricter one (host and
    # port exact, every Origin header), and FastMCP's repeated it on every MCP call, a fortieth
    # of an authenticated call's instructions (issue 17).
    mcp_app = mcp.http_app(
        path=MCP_PATH,
        host_origin_protection=False,
        # An MCP session lives in one process; replicas sharing a store take any request on
        # any of them, so there /mcp keeps none (no server-initiated messages, no GET stream).
        stateless_http=settings.store.startswith(REDIS_SCHEMES),
    )
    mcp_route_first(mcp_app.router.routes, MCP_PATH)
    if settings.store.startswith(REDIS_SCHEMES):
        # Just inside FastMCP's own error middleware, which would answer a lost Redis with a 500.
        # Only Redis goes away mid-run (sandbox/store_outage.py): over the file or memory store
        # the two outage layers were a hundredth of every MCP call's instructions (issue 17).
        mcp_app.add_middleware(StoreOutage, mcp_path=MCP_PATH)
    return mcp_app


def _lifespan(
    sandbox: Sandbox, auth: AuthProvider, mcp_app: StarletteWithLifespan, upstream_mode: UpstreamMode | None
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """What runs around serving: the mounted IdP's and FastMCP's lifespans, then the backend's stop."""
    backend = sandbox.backend

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.callback(backend.stop)
            if backend.mount and isinstance(backend.mount[1], Starlette):
                # Mounted apps do not get lifespan events of their own.
                await stack.enter_async_context(backend.mount[1].router.lifespan_context(backend.mount[1]))
            await stack.enter_async_context(mcp_app.lifespan(app))
            if upstream_mode is not None:
                stack.push_async_callback(upstream_mode.transport.close)  # stops a stdio server
            if isinstance(auth, SandboxOIDCProxy):  # proxy mode
                stack.push_async_callback(auth.close_idp_client)  # its pooled IdP connections
                stack.push_async_callback(auth.close_jwks_client)
                await provision_enterprise_client(auth)
            yield

    return lifespan


def _add_pages(app: Starlette, sandbox: Sandbox) -> None:
    settings = sandbox.settings

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "backend": sandbox.backend.name, "mcp": settings.mcp_url})

    async def landing_page(request: Request) -> HTMLResponse:
        return HTMLResponse(landing.render(settings, sandbox.realm.model, sandbox.oauth_config))

    app.router.routes.extend([Route("/healthz", healthz, methods=["GET"]), Route("/", landing_page, methods=["GET"])])


def _add_layers(
    app: Starlette,
    sandbox: Sandbox,
    mcp: FastMCP,
    auth: AuthProvider,
    mcp_app: StarletteWithLifespan,
    client_id: str,
    upstream_mode: UpstreamMode | None,
    *,
    own_server: bool,
) -> None:
    """Middleware and routes, in the order that matters: each middleware added wraps the ones before."""
    settings, backend = sandbox.settings, sandbox.backend
    # Innermost: /mcp skips the router (sandbox/mcp_route.py), after every layer added below.
    app.add_middleware(McpRoute, mcp_path=MCP_PATH, router=app.router)
    if settings.mode == "proxy":
        # Inside the body limits and the trace (both added after it): bounded bodies, 403s recorded.
        app.add_middleware(
            StepUpGate,
            verifier=auth,
            server=mcp,
            scoped_tools={} if own_server else SCOPED_TOOLS,
            mcp_path=MCP_PATH,
            resource_metadata_url=f"{settings.base_url}{PROTECTED_RESOURCE_METADATA}/mcp",
        )
    # Inside the trace (added after it), so refused bodies still show as hops.
    app.add_middleware(BodyLimits, mcp_path=MCP_PATH, exempt=(backend.mount[0],) if backend.mount else ())
    # The flow trace's routes must come before the root mount, which would shadow them.
    install_trace(
        app, settings, sandbox.upstream, client_id, auth, upstream_mode.http_clients if upstream_mode else None
    )
    app.router.routes.append(root_resource_metadata_route(mcp_app))
    if upstream_mode is not None:
        app.router.routes.extend(upstream_mode.routes)
    if backend.mount:
        app.mount(*backend.mount)
    app.mount("/", mcp_app)
    if settings.store.startswith(REDIS_SCHEMES):
        # The routes outside FastMCP's app (the trace, step-up) read the store too.
        app.add_middleware(StoreOutage, mcp_path=MCP_PATH)
    if settings.public_url:
        app.add_middleware(ReplicaHeader, replica=f"{settings.host}:{settings.port}")
    # Added last, so it runs first: a rebinding request reaches no route and no trace.
    app.add_middleware(RebindingGuard, port=settings.port, public_url=settings.public_url)


def root_resource_metadata_route(mcp_app: Starlette) -> Route:
    """RFC 9728's root form, served by FastMCP's own handler for the ``/mcp`` resource.

    FastMCP publishes only the path form (``/.well-known/oauth-protected-resource/mcp``);
    clients that probe the root form first should find the same document there.
    """
    path_form = next(
        route
        for route in mcp_app.routes
        if isinstance(route, Route) and route.path.startswith(f"{PROTECTED_RESOURCE_METADATA}/")
    )
    return Route(PROTECTED_RESOURCE_METADATA, endpoint=path_form.endpoint, methods=list(path_form.methods or []))


def public_oauth_config(
    settings: SandboxSettings, backend: Backend, upstream: Upstream, upstream_client_id: str
) -> dict[str, Any]:
    """The OAuth configuration a learner may see: every URL and choice, no secret."""
    common = {
        "mode": settings.mode,
        "mcp_url": settings.mcp_url,
        "backend": backend.name,
        "realm_url": upstream.realm_url,
        "protected_resource_metadata": f"{settings.base_url}{PROTECTED_RESOURCE_METADATA}/mcp",
    }
    if settings.mode == "native-dcr":
        return common | {
            "authorization_server": upstream.realm_url,
            "authorization_server_metadata": upstream.discovery_url,
            "registration_endpoint": f"{upstream.realm_url}/clients-registrations/openid-connect",
            "scopes": REQUESTED_SCOPES,
            "pkce": "S256, client to IdP",
            "token_verification": f"the IdP's JWT, checked against the realm's JWKS; aud must be {settings.mcp_url}",
        }
    return common | {
        "upstream_client_id": upstream_client_id,
        "authorization_server": settings.base_url,
        "authorization_server_metadata": f"{settings.base_url}/.well-known/oauth-authorization-server",
        "callback_url": f"{settings.base_url}{CALLBACK_PATH}",
        "client_registration": "Client ID Metadata Documents (URL client_id) or DCR at /register",
        "cimd_local_ca": str(settings.tls_dir / "ca.pem"),
        "allowed_client_redirect_uris": CLIENT_REDIRECT_PATTERNS,
        "scopes": SCOPES,
        "consent_required": settings.consent,
        "pkce": "S256 on both legs (client to proxy, proxy to IdP)",
        "token_store": redacted(settings.store),
    }
