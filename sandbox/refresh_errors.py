"""An IdP that fails a refresh answers the client as an OAuth error, never as a 500.

FastMCP 4.2.3 turns only the IdP's ``invalid_grant`` into a ``TokenError``
(oauth_proxy/proxy.py:1895). Everything else escapes the MCP SDK's token handler: an IdP
answering 5xx or not answering at all (httpx's errors), refusing the proxy's own client
(``invalid_client``), or sending a body that is not a token response. The client then gets
a plain-text 500 and the log a traceback, although its refresh token is still good. Here
those failures become an RFC 6749 error body that says what happened upstream:

- the IdP unreachable or answering 5xx: 503 ``temporarily_unavailable`` with Retry-After,
  as the sandbox answers its own store's outage (sandbox/store_outage.py);
- any other unusable answer: 502 ``server_error``: retrying will not help, the proxy's
  configuration or the IdP needs looking at.

tests/security/test_proxy_upstream_defects.py FAILS once FastMCP answers these itself;
delete this module then.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx2
from fastmcp.server.auth.oauth_proxy.upstream import OAuthError
from mcp.server.auth.provider import RefreshToken, TokenError
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.store_outage import RETRY_AFTER_SECONDS, outage_cause

if TYPE_CHECKING:
    from fastmcp.server.auth.oidc_proxy import OIDCProxy

log = logging.getLogger("sandbox.proxy")


class UpstreamRefreshFailed(Exception):
    """The IdP failed the proxy's refresh; ``status``, ``error`` and ``description`` are the answer."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> JSONResponse:
        headers = {"Cache-Control": "no-store"}
        if self.status == 503:
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers=headers)


def upstream_failure(exc: Exception) -> UpstreamRefreshFailed:
    """What the client is told of ``exc``, raised by FastMCP's refresh call to the IdP."""
    if isinstance(exc, httpx2.HTTPStatusError):
        status = exc.response.status_code
        return UpstreamRefreshFailed(503, "temporarily_unavailable", f"the IdP answered the refresh with HTTP {status}")
    if isinstance(exc, httpx2.TransportError):
        return UpstreamRefreshFailed(
            503, "temporarily_unavailable", f"the IdP could not be reached for the refresh ({type(exc).__name__})"
        )
    if isinstance(exc, OAuthError):
        said = f"{exc.error}: {exc.description}" if exc.description else str(exc.error)
        return UpstreamRefreshFailed(502, "server_error", f"the IdP refused the proxy's refresh ({said[:300]})")
    return UpstreamRefreshFailed(
        502, "server_error", f"the IdP's refresh answer is not a usable token response ({type(exc).__name__})"
    )


if TYPE_CHECKING:
    # The mixin's super() is FastMCP's proxy; the checker sees it so, the runtime MRO makes it so.
    _Proxy = OIDCProxy
else:
    _Proxy = object


class RefreshErrors(_Proxy):
    """Mixed in before FastMCP's ``OIDCProxy``: its refresh's upstream failures as UpstreamRefreshFailed."""

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        try:
            return await super().exchange_refresh_token(client, refresh_token, scopes)
        except TokenError:
            raise
        except Exception as exc:
            if outage_cause(exc) is not None:  # the store, not the IdP: sandbox/store_outage.py answers
                raise
            failure = upstream_failure(exc)
            log.warning("refresh for client %s failed upstream: %s", client.client_id, failure.description)
            raise failure from exc


class RefreshErrorAnswers:
    """``/token``: an UpstreamRefreshFailed raised under the SDK's handler, answered as its body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The SDK's handler answers only after the refresh returned, so nothing was sent yet.
        try:
            await self.app(scope, receive, send)
        except UpstreamRefreshFailed as failure:
            await failure.response()(scope, receive, send)
