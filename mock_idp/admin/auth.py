"""Who may call the admin API: a live ``master``-realm access token of a user holding ``admin``."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from mock_idp.bearer import bearer_token
from mock_idp.errors import AdminError, admin_not_found
from mock_idp.idp import IdentityProvider
from mock_idp.master import ADMIN_ROLE, MASTER

AdminHandler = Callable[[Request, IdentityProvider], Awaitable[Response]]


def _unauthorized() -> AdminError:
    return AdminError(401, {"error": "HTTP 401 Unauthorized"})


def _forbidden() -> AdminError:
    return AdminError(403, {"error": "HTTP 403 Forbidden"})


def authenticate(request: Request, realms: dict[str, IdentityProvider]) -> None:
    """401 without a valid token; 403 for another realm's token or a master user who is no admin."""
    token = bearer_token(request.headers)
    if not token:
        raise _unauthorized()
    master = realms[MASTER]
    claims = master.user_token_claims(token, "Bearer")
    if claims is None:
        # Keycloak accepts a realm's own tokens but its users hold no admin roles here.
        if any(idp.user_token_claims(token, "Bearer") for name, idp in realms.items() if name != MASTER):
            raise _forbidden()
        raise _unauthorized()
    session = master.live_session(claims.get("sid"))
    user = master.find_user(session.username) if session else None
    if user is None or ADMIN_ROLE not in master.realm.effective_roles(user):
        raise _forbidden()


def admin_endpoint(handler: AdminHandler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, then hand the handler the IdP of the ``{realm}`` in the path."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        realms: dict[str, IdentityProvider] = request.app.state.realms
        for each in realms.values():
            each.directory.sync()  # users another replica's admin API changed
        authenticate(request, realms)
        idp = realms.get(request.path_params["realm"])
        if idp is None:
            raise admin_not_found("Realm not found.")
        return await handler(request, idp)

    return endpoint
