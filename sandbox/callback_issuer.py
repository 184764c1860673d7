"""The IdP's callback names its issuer, or it is refused (RFC 9207, mix-up defence).

FastMCP 4.2.3's callback reads ``code`` and ``state`` and ignores ``iss``: a response with
another issuer's name, two of them, or none, got a code for the client (302). Both backends
send ``iss`` in every authorization response and say so in their metadata
(``authorization_response_iss_parameter_supported``: Keycloak's default, and the mock's), and
RFC 9207 §2.4 has a client then refuse a response whose ``iss`` is missing or is not the
issuer it sent the user to. With one upstream this is defence in depth, the check a client of
several IdPs must make. tests/security/test_proxy_callback_issuer.py FAILS once FastMCP
checks it; delete this then.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastmcp.server.auth.oauth_proxy.ui import create_error_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

if TYPE_CHECKING:
    from fastmcp.server.auth.oidc_proxy import OIDCProxy

log = logging.getLogger("sandbox.proxy")

if TYPE_CHECKING:
    # The mixin's super() is FastMCP's proxy; the checker sees it so, the runtime MRO makes it so.
    _Proxy = OIDCProxy
else:
    _Proxy = object


def issuer_problem(said: list[str], expected: str) -> str | None:
    """Why the ``iss`` values ``said`` are not ``expected``; None if they are (compared as strings, §2.4)."""
    if not said:
        return "it names no issuer (iss)"
    if len(said) > 1:
        return f"it names {len(said)} issuers"
    if said[0].rstrip("/") != expected.rstrip("/"):  # pydantic may have added a slash to ours
        return f"it names the issuer {said[0][:200]!r}, not {expected!r}"
    return None


class CallbackIssuer(_Proxy):
    """Mixed in before FastMCP's ``OIDCProxy``: its callback, behind the RFC 9207 check."""

    async def _handle_idp_callback(self, request: Request) -> HTMLResponse | RedirectResponse:
        expected = str(self.oidc_config.issuer)
        problem = issuer_problem(request.query_params.getlist("iss"), expected)
        if problem is not None:
            log.warning("IdP callback refused: %s (RFC 9207)", problem)
            message = f"The authorization response cannot be trusted: {problem} (RFC 9207). Start the sign-in again."
            return HTMLResponse(create_error_html(error_title="OAuth Error", error_message=message), status_code=400)
        return await super()._handle_idp_callback(request)
