"""Keycloak's login actions: the targets of the forms the authorization endpoint shows.

``login-actions/authenticate`` (the login form), ``login-actions/required-action`` (update
password) and ``login-actions/consent``. Each counts only when posted from the browser that
was shown the form (its AUTH_SESSION_ID); otherwise the login restarts, as in Keycloak.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mock_idp import cookies
from mock_idp.bodies import read_form
from mock_idp.endpoints import idp_of, realm_display
from mock_idp.endpoints.authorization import PageError, after_authentication, begin, check_client, issue_code, respond
from mock_idp.errors import OAuthError
from mock_idp.faults import LOGIN_DENIED
from mock_idp.idp import IdentityProvider
from mock_idp.login_pages import UPDATE_PASSWORD, action_url, login_form, update_password_form
from mock_idp.login_sessions import find_pending
from mock_idp.pages import message_page
from mock_idp.store import PendingLogin

INVALID_LOGIN = "Invalid username or password."
TIMED_OUT = "Your login attempt timed out. Login will start from the beginning."
COOKIE_NOT_FOUND = (
    "Restart login cookie not found. It may have expired; it may have been deleted or cookies are disabled in your browser. "
    "If cookies are disabled then enable them. Click Back to Application to login again."
)


def _pending_login(request: Request, idp: IdentityProvider) -> PendingLogin | Response:
    """The login a form was shown for, when POSTed from the browser that was shown it.

    Anything else (no cookies, another browser's, an expired form) is what Keycloak answers:
    a restart of this browser's own login from its KC_RESTART cookie, with the "timed out"
    message, or without that cookie the "Restart login cookie not found" page. A login form
    an attacker POSTs through the victim's browser (login CSRF) thus never logs anyone in."""
    login = find_pending(request, idp)
    if login is not None and not login.logout and login.expires_at >= idp.clock.now():
        return login
    params = cookies.restart_params(request, idp)
    if params is None:
        return message_page(realm_display(idp), COOKIE_NOT_FOUND)
    try:
        client, redirect_uri = check_client(idp, params)
    except PageError as exc:
        return message_page(realm_display(idp), str(exc))
    return begin(request, idp, client, redirect_uri, params, error=TIMED_OUT)


Action = Callable[[Request, IdentityProvider, PendingLogin], Awaitable[Response]]


def _login_action(handler: Action) -> Callable[[Request], Awaitable[Response]]:
    """A login-action form's target, called with this browser's pending login (else the login
    restarts); a body it cannot read is a page for the user, as in Keycloak."""

    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        idp = idp_of(request)
        try:
            login = _pending_login(request, idp)
            return login if not isinstance(login, PendingLogin) else await handler(request, idp, login)
        except OAuthError as exc:
            return message_page(realm_display(idp_of(request)), exc.description, status_code=exc.status_code)

    return answer


@_login_action
async def authenticate(request: Request, idp: IdentityProvider, login: PendingLogin) -> Response:
    """``POST login-actions/authenticate``: the login form's target."""
    form = await read_form(request)
    again = idp.live_session(login.reauth) if login.reauth else None  # only the password is asked
    username = again.username if again is not None else form.get("username", "").strip()
    password = form.get("password", "")
    known = again.username if again is not None else None
    denied = idp.faults.take("login", ("login_denied",))
    if denied is not None:
        return login_form(
            idp, login, error=denied.error_description or LOGIN_DENIED, username=username, reauthenticate=known
        )
    user = idp.check_password(username, password) if username and password else None
    if user is None:
        return login_form(idp, login, error=INVALID_LOGIN, username=username, reauthenticate=known)
    if idp.needs_password_update(user):
        login.username = user.username  # no sid yet: the session starts once the password is changed
        idp.store.put_login(login)
        # Keycloak redirects to the required action, which shows its form.
        return RedirectResponse(action_url(idp, "required-action", login, execution=UPDATE_PASSWORD, form=False), 302)
    return _start_session(idp, login, user.username)


def _start_session(idp: IdentityProvider, login: PendingLogin, username: str) -> Response:
    """The user signed in: a new SSO session, or, re-authenticated, the same one with a new auth_time."""
    session = idp.live_session(login.reauth) if login.reauth else None
    if session is not None and session.username == username:
        idp.store.reauthenticated(session)
    else:
        session = idp.start_session(username)
    response = after_authentication(idp, login, session, acr="1")
    cookies.set_identity(response, idp, session)
    cookies.clear_restart(response, idp)  # the login it would restart is over
    return response


@_login_action
async def required_action(request: Request, idp: IdentityProvider, login: PendingLogin) -> Response:
    """``login-actions/required-action``: GET shows the update-password form (Keycloak redirects
    here after the temporary password), POST is that form's target."""
    user = idp.find_user(login.username) if login.username and login.sid is None else None
    if user is None:
        return message_page(realm_display(idp), TIMED_OUT)
    if request.method == "GET":
        return update_password_form(idp, login)
    form = await read_form(request)
    new, confirm = form.get("password-new", ""), form.get("password-confirm", "")
    if not new:
        return update_password_form(idp, login, error="Please specify password.")
    if new != confirm:
        return update_password_form(idp, login, error="Passwords don't match.")
    idp.directory.reset_password(user, {"value": new, "temporary": False})
    return _start_session(idp, login, user.username)


@_login_action
async def consent(request: Request, idp: IdentityProvider, login: PendingLogin) -> Response:
    """``POST login-actions/consent``: the consent page's target."""
    session = idp.live_session(login.sid)
    if session is None:
        return message_page(realm_display(idp), TIMED_OUT)
    form = await read_form(request)
    if "accept" not in form:
        idp.store.drop_login(login.id)
        return respond(
            idp,
            login.params,
            login.redirect_uri,
            {"error": "access_denied", "error_description": "User denied consent"},
        )
    idp.store.grant_consent(session.username, login.client_id)
    response = issue_code(idp, login, session, acr="1")
    cookies.clear_restart(response, idp)  # the login it would restart is over
    return response


def routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/login-actions/authenticate", authenticate, methods=["POST"]),
        Route(f"{prefix}/login-actions/consent", consent, methods=["POST"]),
        Route(f"{prefix}/login-actions/required-action", required_action, methods=["GET", "POST"]),
    ]
