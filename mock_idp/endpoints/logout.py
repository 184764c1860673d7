"""RP-initiated logout (OIDC RP-Initiated Logout 1.0) and Keycloak's refresh-token logout.

* ``id_token_hint`` present: log out at once, then redirect.
* no hint: a confirmation page (Keycloak's ``#kc-logout``) posting back here.
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
from mock_idp.pages import message_page, render
from mock_idp.redirects import matches, with_params


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


async def logout(request: Request) -> Response:
    idp = idp_of(request)
    display = realm_display(idp)
    try:
        query = parse_params(request.url.query)
        form = await read_form(request) if request.method == "POST" else {}
    except OAuthError as exc:
        return message_page(display, exc.description, status_code=exc.status_code)
    if "refresh_token" in form:
        return await _refresh_token_logout(request, idp, form)
    params = {**query, **{k: v for k, v in form.items() if k != "confirmLogout"}}

    browser_session = cookies.identity_session(request, idp)
    sid, client_id = browser_session.sid if browser_session is not None else None, params.get("client_id")
    hint = params.get("id_token_hint")
    if hint:
        found = _id_token_sid(idp, hint)
        if found is None:
            return message_page(display, "Invalid parameter: id_token_hint")
        sid = found[0] or sid
        if client_id and found[1] != client_id:
            return message_page(display, "Parameter client_id different than the client from the id_token_hint")
        client_id = found[1]
    target = params.get("post_logout_redirect_uri")
    if target:
        client = idp.find_client(client_id or "")
        if client is None:
            return message_page(
                display,
                "Either the parameter client_id or id_token_hint is required when post_logout_redirect_uri is used.",
            )
        if not matches(target, client.post_logout_redirect_uris):
            return message_page(display, "Invalid redirect uri")
    if not hint and "confirmLogout" not in form:
        return render(
            "logout.html", title="Logging out", realm_display=display, action=_self_url(idp, query), session_code=""
        )

    if sid:
        idp.end_session(sid)
    if target:
        response: Response = RedirectResponse(
            with_params(target, {"state": params.get("state")} if params.get("state") else {}), status_code=302
        )
    else:
        response = message_page(display, "You are logged out", status_code=200, heading="You are logged out")
    cookies.clear_identity(response, idp)
    return response


def _self_url(idp: IdentityProvider, query: dict[str, str]) -> str:
    url = f"{idp.issuer}/protocol/openid-connect/logout"
    return f"{url}?{urlencode(query)}" if query else url


def routes(prefix: str) -> list[Route]:
    return [Route(f"{prefix}/protocol/openid-connect/logout", logout, methods=["GET", "POST"])]
