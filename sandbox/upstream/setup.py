"""From settings to the upstream server: rules read, upstream checked, routes to serve."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sandbox.settings import SandboxSettings

if TYPE_CHECKING:
    # Imported by the functions below once an upstream is configured: FastMCP's client and
    # proxy are a sixth of the imports of a sandbox that serves its own tools (issue 17).
    from fastmcp.client.transports import ClientTransport
    from fastmcp.server.providers.proxy import FastMCPProxy
    from starlette.routing import BaseRoute

    from sandbox.upstream.server import IdentityHttpClients, UpstreamTarget

STDERR_LOG = "upstream-stderr.log"


@dataclass
class UpstreamMode:
    target: UpstreamTarget
    server: FastMCPProxy
    transport: ClientTransport
    # The HTTP upstream's client factory (None for stdio), where the trace hooks in.
    http_clients: IdentityHttpClients | None
    # What answered initialize at start-up ("name version"), for the banner.
    answered_as: str
    routes: list[BaseRoute] = field(default_factory=list)


def target_from(settings: SandboxSettings) -> UpstreamTarget | None:
    if not (settings.upstream or settings.upstream_command):
        return None
    from sandbox.upstream.server import UpstreamTarget

    return UpstreamTarget(
        url=settings.upstream,
        command=settings.upstream_command,
        timeout=settings.upstream_timeout,
        stderr_log=settings.state_dir / STDERR_LOG if settings.upstream_command else None,
    )


def prepare_upstream(settings: SandboxSettings) -> UpstreamMode | None:
    """None without ``--upstream``/``--upstream-command``; else the checked upstream.

    Raises ``UpstreamError`` (one line) for bad header rules or an upstream that does not answer.
    """
    target = target_from(settings)
    if target is None:
        return None
    from sandbox.upstream.check import check_upstream
    from sandbox.upstream.identity import HeaderRuleError, IdentityHeaders
    from sandbox.upstream.server import IdentityHttpClients, UpstreamError, build_transport, build_upstream_server
    from sandbox.upstream.token import UpstreamTokenMinter, load_or_create_key

    try:
        identity = IdentityHeaders.from_rules(settings.upstream_headers, settings.upstream_headers_file)
    except HeaderRuleError as exc:
        raise UpstreamError(str(exc)) from None
    minter = None
    if settings.upstream_token:
        audience = settings.upstream or ""
        minter = UpstreamTokenMinter(load_or_create_key(settings.state_dir), settings.base_url, audience)
    if target.stderr_log is not None:
        target.stderr_log.parent.mkdir(parents=True, exist_ok=True)
    answered_as = check_upstream(target)
    http_clients = IdentityHttpClients(identity, minter, target.timeout) if target.url else None
    transport = build_transport(target, http_clients)
    mode = UpstreamMode(target, build_upstream_server(target, transport), transport, http_clients, answered_as)
    if minter is not None:
        mode.routes.append(minter.jwks_route())
    return mode
