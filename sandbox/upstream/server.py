"""The upstream behind the proxy: FastMCP's ``FastMCPProxy`` and ``ProxyClient``, configured.

What this module adds to FastMCP's proxy, one reason each:

- the upstream HTTP client is built here, so it carries the identity headers (and the
  optional minted token) of the user making *this* request, and nothing the MCP client
  sent: FastMCP's ``ProxyClient`` forwards incoming headers, ``Authorization`` included,
  which would pass the client's token through (forbidden by the MCP spec);
- the backend's protocol era follows the front connection's where that is the handshake
  era (so sampling, elicitation and roots can be relayed), else ``auto``: FastMCP pins a
  modern front's exact version, which a handshake-only upstream (the TypeScript SDK's)
  refuses with "Server not initialized";
- ``provider_error_strategy="raise"``: with FastMCP's default ("warn") an unreachable
  upstream lists as an empty server instead of an error;
- errors name the upstream and the cause in one JSON-RPC error (``UpstreamErrors``);
- ``completion/complete`` is relayed (``relay_completions``): FastMCP's proxy does not;
- so are ``resources/subscribe`` and ``unsubscribe`` and the updates (subscriptions.py);
- stdio: every call shares the one kept-alive session, whose relaying callbacks are the
  first caller's, so they would restore a finished request's context ("no back-channel
  for server-initiated requests"). All clients share one context slot instead, and calls
  take turns (``OneCallAtATime``), so a sampling or elicitation request from the server
  always reaches the client whose call caused it, never another user's.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import mcp_types
from fastmcp.client.transports import ClientTransport, StdioTransport, StreamableHttpTransport
from fastmcp.server.dependencies import get_access_token, get_context
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.server.providers.proxy import (
    FastMCPProxy,
    ProxyClient,
    _make_restoring_handler,
    default_proxy_message_handler,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from sandbox.trust_store import default_trust_store
from sandbox.upstream.errors import UpstreamError as UpstreamError  # re-exported for its raisers here
from sandbox.upstream.failures import UpstreamErrors, client_error
from sandbox.upstream.identity import IdentityHeaders
from sandbox.upstream.subscriptions import SubscriptionRelay
from sandbox.upstream.token import UpstreamTokenMinter

if TYPE_CHECKING:
    from sandbox.trace.upstream import ClientHooks

log = logging.getLogger("sandbox.upstream")


@dataclass(frozen=True)
class UpstreamTarget:
    """Where the upstream is: a Streamable HTTP URL, or a stdio command the sandbox runs."""

    url: str | None = None
    command: str | None = None
    timeout: float = 60.0
    # The stdio server's stderr goes here, so its own error messages can be read after a crash.
    stderr_log: Path | None = None

    @property
    def label(self) -> str:
        return f"upstream {self.url}" if self.url else f"upstream command {self.command!r}"

    def argv(self) -> list[str]:
        try:
            argv = shlex.split(self.command or "")
        except ValueError as exc:
            raise UpstreamError(f"upstream command {self.command!r}: {exc}") from None
        if not argv:
            raise UpstreamError("upstream command is empty")
        return argv


class IdentityHttpClients:
    """httpx client factory for the upstream: identity headers of the current user, nothing else.

    FastMCP calls it when each backend connection opens, inside the front request, so
    ``get_access_token()`` is that request's user. The ``headers`` FastMCP offers (the
    front request's, ``Authorization`` included) are deliberately not used.

    FastMCP opens a backend connection, so calls this, for every proxied request; each
    client gets the process's one TLS trust store (``tls``, sandbox/trust_store.py), since
    httpx would otherwise parse the CA bundle for every client: about 20 ms of CPU per
    proxied call, used or not (most upstreams are plain http).
    """

    # Set by the flow trace: event hooks recording each call to the upstream.
    trace_hooks: ClientHooks | None = None

    def __init__(self, identity: IdentityHeaders, minter: UpstreamTokenMinter | None, timeout: float) -> None:
        self.identity = identity
        self.minter = minter
        self.timeout = timeout

    @property
    def tls(self) -> ssl.SSLContext:
        return default_trust_store()

    def headers(self) -> dict[str, str]:
        token = get_access_token()
        if token is None:
            return {}
        headers = self.identity.values(token.claims, token.scopes)
        if self.minter is not None:
            headers["Authorization"] = f"Bearer {self.minter.mint(token.claims, token.scopes)}"
        return headers

    def __call__(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
        **_: Any,
    ) -> httpx2.AsyncClient:
        # Long reads are legitimate (a streamed tool call); a dead host should fail fast.
        timeout = httpx2.Timeout(self.timeout, connect=min(self.timeout, 10.0))
        client = httpx2.AsyncClient(headers=self.headers(), timeout=timeout, follow_redirects=False, verify=self.tls)
        if self.trace_hooks is not None:
            self.trace_hooks.install(client)
        return client


def _front_is_handshake() -> bool:
    try:
        request_context = get_context().request_context
    except RuntimeError:
        return True
    return request_context is None or request_context.protocol_version not in MODERN_PROTOCOL_VERSIONS


def build_transport(target: UpstreamTarget, http_clients: IdentityHttpClients | None) -> ClientTransport:
    if target.url:
        return StreamableHttpTransport(target.url, httpx_client_factory=http_clients)
    command, *args = target.argv()
    # keep_alive: one server process for every call, restarted by FastMCP when it has exited.
    return StdioTransport(command, args, keep_alive=True, log_file=target.stderr_log)


def client_factory(
    target: UpstreamTarget, transport: ClientTransport, relay: SubscriptionRelay | None = None
) -> Callable[[], ProxyClient[ClientTransport]]:
    handlers: dict[str, Any] = {}
    if relay is not None and target.command:
        rc_ref: list[Any] = [None]

        async def on_message(message: Any) -> None:
            # The shared stdio session's notifications: resource updates to their
            # subscribers, the rest (list-changed) as FastMCP's proxy forwards them.
            await relay.on_shared_message(message)
            await forward_default(message)

        forward_default = _make_restoring_handler(default_proxy_message_handler, rc_ref)
        handlers["message_handler"] = on_message
    base = ProxyClient(
        transport, forward_incoming_headers=False, timeout=target.timeout, init_timeout=target.timeout, **handlers
    )
    if handlers:
        base._proxy_rc_ref = rc_ref

    def fresh() -> ProxyClient[ClientTransport]:
        client = base.new()
        if target.command:
            # One stdio process is one session, shared by every call: pin its era, and
            # point every client's relaying callbacks at the same context slot.
            client.mode = "legacy"
            client._proxy_rc_ref = base._proxy_rc_ref
            client._bind_restoring_handlers()
        else:
            # Over HTTP each call has its own session, so it can follow the front connection's era.
            client.mode = "legacy" if _front_is_handshake() else "auto"
        return client

    return fresh


class OneCallAtATime(Middleware):
    """Requests to a stdio upstream take turns: they share one session and one context slot."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()

    async def on_request(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        async with self.lock:
            return await call_next(context)


def relay_completions(
    proxy: FastMCPProxy, target: UpstreamTarget, factory: Callable[[], ProxyClient[ClientTransport]]
) -> None:
    """``completion/complete`` to the upstream, answer or error as the upstream gave it.

    FastMCP's proxy has no completion relay ("Method not found"), and its
    ``@completion`` route answers an empty completion for any reference it does not
    list itself, which would hide the upstream's own error. So this registers the
    low-level handler, as FastMCPProxy itself does for ``ping``.
    """

    async def complete(ctx: Any, params: mcp_types.CompleteRequestParams) -> mcp_types.CompleteResult:
        try:
            client = factory()
            async with client:
                return await client.complete_mcp(
                    ref=params.ref,
                    argument={"name": params.argument.name, "value": params.argument.value},
                    context_arguments=params.context.arguments if params.context else None,
                )
        except Exception as exc:
            failure = client_error(target, exc)
            if failure is exc:
                raise
            raise failure from exc

    proxy._mcp_server.add_request_handler("completion/complete", mcp_types.CompleteRequestParams, complete)


def build_upstream_server(target: UpstreamTarget, transport: ClientTransport) -> FastMCPProxy:
    if isinstance(transport, StreamableHttpTransport):
        http = transport

        def per_connection() -> ClientTransport:
            return StreamableHttpTransport(http.url, httpx_client_factory=http.httpx_client_factory)

        relay = SubscriptionRelay(per_connection, None, lambda error: client_error(target, error))
        factory = client_factory(target, transport, relay)
    else:
        relay = SubscriptionRelay(None, lambda: factory(), lambda error: client_error(target, error))
        factory = client_factory(target, transport, relay)
    proxy = FastMCPProxy(
        client_factory=factory,
        provider_error_strategy="raise",
        # Clients see the upstream's own name, version and instructions.
        identity="upstream",
        name=f"MCP OAuth sandbox: {target.url or target.command}",
    )
    proxy.add_middleware(UpstreamErrors(target))
    if target.command:
        proxy.add_middleware(OneCallAtATime())
    relay_completions(proxy, target, factory)
    relay.install(proxy._mcp_server)
    return proxy
