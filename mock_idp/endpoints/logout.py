"""RP-initiated logout (OIDC RP-Initiated Logout 1.0) and Keycloak's refresh-token logout.

* ``id_token_hint`` present: log out at once, then redirect.
* no hint: Keycloak's confirmation page (``#kc-logout``), posting to ``logout/logout-confirm``
  with the ``tab_id`` of a logout pending in this browser's login session: a confirmation
  posted from elsewhere (logout CSRF) finds none.
* POST with ``refresh_token`` + client credentials (what python-keycloak's
  ``logout()`` sends): end the session, answer 204.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mock_idp import cookies
from mock_idp.bodies import parse_params, read_form
from mock_idp.client_auth import authenticate_client
from mock_idp.endpoints import idp_of, realm_display
from mock_idp.errors import OAuthError, invalid_grant
from mock_idp.idp import IdentityProvider
from mock_idp.login_sessions import find_pending, login_session, tab_id
from mock_idp.pages import message_page, render
from mock_idp.redirects import matches, with_params
from mock_idp.store import PendingLogin, new_id

# Keycloak runs a logout without a client in its own, the account console's.
SYSTEM_CLIENT = "account"
LOGOUT_FAILED = "Logout failed"


class _Refused(Exception):
    """A logout request Keycloak answers with an error page."""


def _id_token_sid(idp: IdentityProvider, hint: str) -> tuple[str | None, str | None] | None:
    """(sid, client_id) of an ID token we issued; expiry is ignored, as Keycloak does."""
    claims = idp.verify(hint, "ID")
    if claims is None:
        return None
    return claims.get("sid"), claims.get("azp")


async def _refresh_token_logout(request: Request, idp: IdentityProvider, form: dict[str, str]) -> Response:
    client = authenticate_client(request, form, idp.find_client)
    claims = idp.verify(form["refresh_token"], "Refresh")
    if claims is None:
        raise invalid_grant("Invalid refresh token")
    if claims.get("azp") != client.client_id:
        raise invalid_grant("Invalid refresh token. Token client and authorized client don't match")
    if claims.get("sid"):
        idp.end_session(str(claims["sid"]))
    return Response(status_code=204)


def _checked(idp: IdentityProvider, params: dict[str, str]) -> tuple[str | None, str | None]:
    """The hint's session id and the client, once the request checks out; else :class:`_Refused`."""
    sid, client_id, hint = None, params.get("client_id"), params.get("id_token_hint")
    if hint:
        found = _id_token_sid(idp, hint)
        if found is None:
            raise _Refused("Invalid parameter: id_token_hint")
        if client_id and found[1] != client_id:
            raise _Refused("Parameter client_id different than the client from the id_token_hint")
        sid, client_id = found
    target = params.get("post_logout_redirect_uri")
    if target:
        client = idp.find_client(client_id or "")
        if client is None:
            raise _Refused(
                "Either the parameter client_id or id_token_hint is required when post_logout_redirect_uri is used."
            )
        if not matches(target, client.post_logout_redirect_uris):
            raise _Refused("Invalid redirect uri")
    return sid, client_id


async def logout(request: Request) -> Response:
    idp = idp_of(request)
    display = realm_display(idp)
    try:
        params = parse_params(request.url.query)
        form = await read_form(request) if request.method == "POST" else {}
    except OAuthError as exc:
        return message_page(display, exc.description, status_code=exc.status_code)
    if "refresh_token" in form:
        return await _refresh_token_logout(request, idp, form)
    params |= {k: v for k, v in form.items() if k != "confirmLogout"}
    try:
        sid, client_id = _checked(idp, params)
    except _Refused as exc:
        return message_page(display, str(exc))
    root, new_root = login_session(request, idp)
    if params.get("id_token_hint"):
        response = _finish(request, idp, params, sid)
    else:
        response = _confirmation(idp, params, client_id or SYSTEM_CLIENT, root)
    if new_root:
        cookies.set_login_session(response, idp, root, polled=False)  # Keycloak runs each logout in one
    return response


def _confirmation(idp: IdentityProvider, params: dict[str, str], client_id: str, root: str) -> Response:
    pending = PendingLogin(
        id=new_id(24),
        root=root,
        params=params,
        client_id=client_id,
        redirect_uri=params.get("post_logout_redirect_uri", ""),
        expires_at=idp.clock.now() + idp.realm.access_code_lifespan_login,
        logout=True,
    )
    idp.store.put_login(pending)
    action = f"{idp.issuer}/protocol/openid-connect/logout/logout-confirm?" + urlencode(
        {"client_id": client_id, "tab_id": tab_id(pending)}
    )
    return render(
        "logout.html", title="Logging out", realm_display=realm_display(idp), action=action, session_code=pending.id
    )


async def logout_confirm(request: Request) -> Response:
    """``POST logout/logout-confirm``: the confirmation page's target, from the browser it was shown in."""
    idp = idp_of(request)
    try:
        form = await read_form(request)
    except OAuthError as exc:
        return message_page(realm_display(idp), exc.description, status_code=exc.status_code)
    pending = find_pending(request, idp)  # by tab_id, in this browser's login session
    # Keycloak answers a missing session_code with a 500; the mock says what it says to a wrong one.
    if pending is None or not pending.logout or pending.id != form.get("session_code"):
        return message_page(realm_display(idp), LOGOUT_FAILED)
    if pending.expires_at < idp.clock.now():
        return message_page(realm_display(idp), LOGOUT_FAILED)
    idp.store.drop_login(pending.id)
    return _finish(request, idp, pending.params, None)


def _finish(request: Request, idp: IdentityProvider, params: dict[str, str], sid: str | None) -> Response:
    """End the session (the hint's, else the browser's), then redirect or say so."""
    browser_session = cookies.identity_session(request, idp)
    sid = sid or (browser_session.sid if browser_session is not None else None)
    if sid:
        idp.end_session(sid)
    target = params.get("post_logout_redirect_uri")
    if target:
        state = params.get("state")
        response: Response = RedirectResponse(with_params(target, {"state": state} if state else {}), status_code=302)
    else:
        response = message_page(realm_display(idp), "You are logged out", status_code=200, heading="You are logged out")
    cookies.clear_identity(response, idp)
    return response


def routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/protocol/openid-connect/logout", logout, methods=["GET", "POST"]),
        Route(f"{prefix}/protocol/openid-connect/logout/logout-confirm", logout_confirm, methods=["POST"]),
    ]
