"""``create_app``: the mock IdP as an ASGI application."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mock_idp.clock import Clock
from mock_idp.endpoints import authorization, discovery, introspection, logout, registration, revocation, token, userinfo
from mock_idp.errors import OAuthError
from mock_idp.idp import IdentityProvider
from mock_idp.keys import default_state_dir, ensure_dir
from mock_idp.realm import Realm, load_realm

log = logging.getLogger("mock_idp")

ENDPOINT_MODULES = (discovery, authorization, token, userinfo, introspection, revocation, logout, registration)


async def _oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
    return JSONResponse({"error": error, "error_description": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    # A safety net only: bad input is meant to be rejected before it can raise.
    log.exception("unexpected error handling %s %s", request.method, request.url.path)
    return JSONResponse({"error": "server_error", "error_description": "Unexpected server error"}, status_code=500)


def create_app(
    realm: str | os.PathLike[str] | dict[str, Any] | Realm,
    *,
    issuer_base: str,
    state_dir: str | os.PathLike[str] | None = None,
    clock: Clock | None = None,
) -> Starlette:
    """Serve ``realm`` at ``/realms/<name>/...``; every emitted URL starts with ``issuer_base``.

    ``state_dir`` holds the signing key and persisted state (default: the
    user cache dir). Raises :class:`~mock_idp.realm.RealmError` for a bad realm.
    """
    loaded = realm if isinstance(realm, Realm) else load_realm(realm)
    if loaded.unknown_fields:
        log.warning(
            "realm %r: the mock IdP ignores %d field(s) it does not implement: %s",
            loaded.name,
            len(loaded.unknown_fields),
            ", ".join(loaded.unknown_fields),
        )
    directory = ensure_dir(Path(state_dir) if state_dir is not None else default_state_dir(loaded.name))
    idp = IdentityProvider(loaded, issuer_base, directory, clock)
    prefix = f"/realms/{quote(loaded.name, safe='')}"
    routes = [route for module in ENDPOINT_MODULES for route in module.routes(prefix)]
    app = Starlette(
        routes=routes,
        exception_handlers={OAuthError: _oauth_error, HTTPException: _http_error, Exception: _server_error},
    )
    app.state.idp = idp
    return app
