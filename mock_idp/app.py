"""``create_app``: the mock IdP as an ASGI application.

One app serves the realm from the file at ``/realms/<name>/...``, the
synthesized ``master`` realm at ``/realms/master/...`` (for admin tokens) and
the Admin REST API at ``/admin/realms/{realm}/...``. Each realm is its own
Starlette app (so ``request.app.state.idp`` is that realm's IdP inside it);
the outer app's ``state.idp`` is the file's realm, ``state.realms`` all of them.

What only some clients use is built at its first request, not at start-up: the Admin REST
API (its modules and ~30 routes) and the master realm's routes (admin tokens).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Unpack

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_idp.backing import BackingUnavailable
from mock_idp.deferred import Deferred
from mock_idp.documents import DocumentShortcut
from mock_idp.endpoints import (
    authorization,
    discovery,
    introspection,
    login_actions,
    logout,
    registration,
    revocation,
    token,
    userinfo,
)
from mock_idp.errors import SERVER_ERROR, AdminError, OAuthError, SpecError
from mock_idp.faults import FaultMiddleware, route_path
from mock_idp.idp import IdentityProvider
from mock_idp.realm import Realm
from mock_idp.realms import Realms, Settings, open_realms, prefix

log = logging.getLogger("mock_idp")

# No two of their routes match one path, so the order only decides how many regexes a request
# passes first: the token endpoint, the hottest POST, leads (discovery and the JWKS rarely get
# this far: DocumentShortcut answers them).
ENDPOINT_MODULES = (
    token,
    discovery,
    authorization,
    login_actions,
    userinfo,
    introspection,
    revocation,
    logout,
    registration,
)


async def _oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Keycloak's bodies for these: its realm lookup, and JAX-RS's own messages.
    if exc.status_code == 404 and route_path(request.scope).startswith("/realms/"):
        return JSONResponse({"error": "Realm does not exist"}, status_code=404)
    if exc.status_code == 405:
        return JSONResponse({"error": "HTTP 405 Method Not Allowed"}, status_code=405, headers=exc.headers)
    error = {404: "not_found"}.get(exc.status_code, "invalid_request")
    return JSONResponse(
        {"error": error, "error_description": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


async def _admin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AdminError)
    return exc.response()


async def _spec_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SpecError)
    return JSONResponse(
        {"error": "invalid_request", "error_description": str(exc), "field": exc.field}, status_code=400
    )


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    # RFC 6749 §4.1.2.1's error for a server that cannot answer now; clients retry.
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"error": "temporarily_unavailable", "error_description": "The identity provider's store is unavailable"},
        status_code=503,
        headers={"Retry-After": "1", "Cache-Control": "no-store"},
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    # A safety net only: bad input is meant to be rejected before it can raise.
    log.exception("unexpected error handling %s %s", request.method, request.url.path)
    return JSONResponse(SERVER_ERROR, status_code=500)


HANDLERS = {
    OAuthError: _oauth_error,
    AdminError: _admin_error,
    SpecError: _spec_error,
    HTTPException: _http_error,
    BackingUnavailable: _store_unavailable,
    Exception: _server_error,
}


class _PrefixRoute(BaseRoute):
    """Hands every request below ``prefix`` to ``app``, path unchanged."""

    def __init__(self, prefix: str, app: ASGIApp) -> None:
        self.prefix = prefix
        self.app = app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            path = route_path(scope)
            if path == self.prefix or path.startswith(self.prefix + "/"):
                return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _realm_app(idp: IdentityProvider) -> Starlette:
    below = prefix(idp)
    app = Starlette(
        routes=[route for module in ENDPOINT_MODULES for route in module.routes(below)],
        middleware=[Middleware(FaultMiddleware, prefix=below, renderers={"authorize": authorization.fault_redirect})],
        exception_handlers=HANDLERS,
    )
    app.state.idp = idp
    return app


def _admin_api() -> Router:
    from mock_idp import admin

    return Router(routes=admin.routes())  # in the outer app: its state and exception handlers


def create_app(realm: str | os.PathLike[str] | dict[str, Any] | Realm, **settings: Unpack[Settings]) -> Starlette:
    """Serve ``realm`` at ``/realms/<name>/...``; every emitted URL starts with ``issuer_base``.

    ``issuer_base`` is required. ``state_dir`` holds the signing keys and persisted state (default: the
    user cache dir); the master realm keeps its own under ``master/``.
    ``admin_username``/``admin_password`` are the master realm's bootstrap
    admin (Keycloak's ``KC_BOOTSTRAP_ADMIN_*``, default admin/admin). ``clock``: the realms' time
    (default the real one). ``store``: ``file`` (default), ``memory`` or
    ``redis://HOST:PORT/DB`` (see :mod:`mock_idp.storage`). Raises
    :class:`~mock_idp.realm_file.RealmError` for a bad realm, :class:`~mock_idp.storage.StoreError`
    for a store it cannot use.
    """
    return app_of(open_realms(realm, **settings))


def app_of(realms: Realms) -> Starlette:
    """The app serving ``realms`` (from :func:`mock_idp.realms.open_realms`)."""
    idp, master = realms.idp, realms.master
    app = Starlette(
        routes=[
            _PrefixRoute(prefix(idp), _realm_app(idp)),
            _PrefixRoute(prefix(master), Deferred(lambda: _realm_app(master))),
            _PrefixRoute("/admin", Deferred(_admin_api)),
        ],
        middleware=[Middleware(DocumentShortcut, documents=realms.documents)],
        exception_handlers=HANDLERS,
    )
    app.state.idp = idp
    app.state.realms = realms.by_name
    return app
