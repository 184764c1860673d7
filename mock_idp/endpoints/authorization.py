"""Authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2) with Keycloak's login and consent pages.

Errors that cannot safely go back to the client (unknown client, unregistered
redirect URI) render a 400 page; the rest redirect to the client with
``error``, ``error_description``, ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from html import escape
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from mock_idp import cookies, pkce
from mock_idp.bodies import parse_params, read_form
from mock_idp.endpoints import idp_of, realm_display
from mock_idp.errors import OAuthError
from mock_idp.faults import LOGIN_DENIED, Fault
from mock_idp.idp import IdentityProvider
from mock_idp.pages import message_page, render
from mock_idp.realm import Client
from mock_idp.redirects import matches, with_params
from mock_idp.store import AuthorizationCode, PendingLogin, UserSession, new_id
from mock_idp.tokens import applied_scopes

RESPONSE_MODES = ("query", "fragment", "form_post")
# OIDC's response types that issue tokens from /auth: Keycloak knows them, and the mock's
# clients have the implicit flow off, as Keycloak's clients have by default.
IMPLICIT_RESPONSE_TYPES = frozenset(
    {"token", "id_token", "id_token token", "code id_token", "code token", "code id_token token"}
)
INVALID_LOGIN = "Invalid username or password."
TIMED_OUT = "Your login attempt timed out. Login will start from the beginning."
COOKIE_NOT_FOUND = (
    "Restart login cookie not found. It may have expired; it may have been deleted or cookies are disabled in your browser. "
    "If cookies are disabled then enable them. Click Back to Application to login again."
)


class _PageError(Exception):
    """Not redirectable: shown to the user."""


class _RedirectError(Exception):
    """``mode``: where the error goes when not where the request asked (Keycloak answers an
    implicit response type in the fragment, as that flow would)."""

    def __init__(self, error: str, description: str | None, mode: str | None = None) -> None:
        super().__init__(description or error)
        self.error, self.description, self.mode = error, description, mode


def _check_client(idp: IdentityProvider, params: dict[str, str]) -> tuple[Client, str]:
    client = idp.find_client(params.get("client_id", ""))
    if client is None:
        raise _PageError("Client not found.")
    if not client.enabled:
        raise _PageError("Client disabled.")
    redirect_uri = params.get("redirect_uri")
    # Keycloak 26.7 requires it even where the client registered a single URI.
    if redirect_uri is None or not matches(redirect_uri, client.redirect_uris):
        raise _PageError("Invalid parameter: redirect_uri")
    return client, redirect_uri


def _check_request(idp: IdentityProvider, client: Client, params: dict[str, str]) -> None:
    response_type = params.get("response_type")
    if not response_type:
        raise _RedirectError("invalid_request", "Missing parameter: response_type")
    if response_type in IMPLICIT_RESPONSE_TYPES:
        raise _RedirectError(
            "unauthorized_client",
            "Client is not allowed to initiate browser login with given response_type. Implicit flow is disabled for the client.",
            "fragment",
        )
    if response_type != "code":
        raise _RedirectError("unsupported_response_type", None)
    if not client.standard_flow:
        raise _RedirectError(
            "unauthorized_client",
            "Client is not allowed to initiate browser login with given response_type. Standard flow is disabled for the client.",
        )
    if params.get("response_mode", "query") not in RESPONSE_MODES:
        raise _RedirectError("invalid_request", "Invalid parameter: response_mode")
    if idp.realm.invalid_scopes(client, params.get("scope", "")):
        raise _RedirectError("invalid_scope", f"Invalid scopes: {params.get('scope', '')}")
    _check_pkce(client, params)


def _check_pkce(client: Client, params: dict[str, str]) -> None:
    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    required = client.pkce_method
    if required and not method:
        raise _RedirectError("invalid_request", "Missing parameter: code_challenge_method")
    if required and method != required:
        raise _RedirectError(
            "invalid_request", "Invalid parameter: code challenge method is not matching the configured one"
        )
    if method is not None and method not in pkce.METHODS:
        raise _RedirectError("invalid_request", "Invalid parameter: code_challenge_method")
    if (required or method) and not challenge:
        raise _RedirectError("invalid_request", "Missing parameter: code_challenge")
    if challenge is not None and not pkce.is_valid_value(challenge):
        raise _RedirectError("invalid_request", "Invalid parameter: code_challenge")


def _respond(idp: IdentityProvider, params: dict[str, str], redirect_uri: str, values: dict[str, str]) -> Response:
    values = {**values, "iss": idp.issuer}
    if params.get("state") is not None:
        values["state"] = params["state"]
    mode = params.get("response_mode", "query")
    if mode == "form_post":
        fields = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in values.items())
        return render(
            "form_post.html",
            title="Submit This Form",
            realm_display=realm_display(idp),
            action=redirect_uri,
            raw={"fields": fields},
        )
    return RedirectResponse(
        with_params(redirect_uri, values, mode if mode in RESPONSE_MODES else "query"), status_code=302
    )


def _login_form(
    idp: IdentityProvider, login: PendingLogin, *, error: str | None = None, username: str = ""
) -> HTMLResponse:
    action = f"{idp.issuer}/login-actions/authenticate?" + urlencode(
        {"session_code": login.id, "client_id": login.client_id, "tab_id": login.id[:11]}
    )
    return render(
        "login.html",
        title=f"Sign in to {realm_display(idp)}",
        realm_display=realm_display(idp),
        action=action,
        username=username,
        client_id=login.client_id,
        raw=_error_block("username", error),
    )


def _error_block(field: str, error: str | None) -> dict[str, str]:
    # Keycloak 26's markup: the message sits under the field it is about.
    block = (
        f'<div class="pf-m-error" id="input-error-{field}"><span class="kc-feedback-text">{escape(error)}</span></div>'
        if error
        else ""
    )
    return {"error_block": block, "invalid": ' aria-invalid="true"' if error else ""}


def _update_password_form(idp: IdentityProvider, login: PendingLogin, *, error: str | None = None) -> HTMLResponse:
    """Keycloak's UPDATE_PASSWORD required action, shown after a temporary password checked out."""
    action = f"{idp.issuer}/login-actions/required-action?" + urlencode(
        {
            "session_code": login.id,
            "execution": "UPDATE_PASSWORD",
            "client_id": login.client_id,
            "tab_id": login.id[:11],
        }
    )
    return render(
        "update_password.html",
        title="Update password",
        realm_display=realm_display(idp),
        action=action,
        raw=_error_block("password-confirm", error),
    )


def _consent_form(idp: IdentityProvider, login: PendingLogin, client: Client) -> HTMLResponse:
    action = f"{idp.issuer}/login-actions/consent?" + urlencode(
        {"session_code": login.id, "client_id": login.client_id}
    )
    scopes = applied_scopes(idp.realm, client, login.params.get("scope", ""))
    items = "".join(f"<li>{escape(scope.name)}</li>" for scope in scopes if scope.include_in_token_scope)
    return render(
        "consent.html",
        title="Grant access",
        realm_display=realm_display(idp),
        action=action,
        client_name=client.name or client.client_id,
        raw={"scopes": items},
    )


def _issue_code(idp: IdentityProvider, login: PendingLogin, session: UserSession, acr: str) -> Response:
    params, now = login.params, idp.clock.now()
    code = AuthorizationCode(
        code=f"{new_id(24)}.{session.sid}.{login.client_id}",
        client_id=login.client_id,
        redirect_uri=login.redirect_uri,
        sid=session.sid,
        username=session.username,
        scope=params.get("scope", ""),
        nonce=params.get("nonce"),
        code_challenge=params.get("code_challenge"),
        code_challenge_method=(params.get("code_challenge_method") or "plain")
        if params.get("code_challenge")
        else None,
        expires_at=now + idp.code_lifespan,
        acr=acr,
    )
    idp.store.codes[code.code] = code
    idp.store.logins.pop(login.id, None)
    response = _respond(idp, params, login.redirect_uri, {"session_state": session.sid, "code": code.code})
    cookies.clear_restart(response, idp)  # the login it would restart is over
    return response


def _after_authentication(idp: IdentityProvider, login: PendingLogin, session: UserSession, acr: str) -> Response:
    client = idp.find_client(login.client_id)
    if client is None:
        return message_page(realm_display(idp), "Client not found.")
    # As Keycloak 26.7 does: prompt=consent asks again only where the client requires
    # consent at all (MCP clients send it with offline_access; Keycloak shows nothing).
    asked_again = "consent" in login.params.get("prompt", "").split()
    if client.consent_required and (asked_again or not idp.store.has_consent(session.username, client.client_id)):
        login.username, login.sid = session.username, session.sid
        idp.store.logins[login.id] = login
        return _consent_form(idp, login, client)
    return _issue_code(idp, login, session, acr)


async def authorize(request: Request) -> Response:
    idp = idp_of(request)
    try:
        params = await read_form(request) if request.method == "POST" else parse_params(request.url.query)
        client, redirect_uri = _check_client(idp, params)
    except (OAuthError, _PageError) as exc:
        message = exc.description if isinstance(exc, OAuthError) else str(exc)
        return message_page(realm_display(idp), message)
    try:
        _check_request(idp, client, params)
    except _RedirectError as exc:
        answer = {"error": exc.error, **({"error_description": exc.description} if exc.description else {})}
        return _respond(idp, {**params, "response_mode": exc.mode} if exc.mode else params, redirect_uri, answer)
    return _begin(request, idp, client, redirect_uri, params)


def _begin(
    request: Request,
    idp: IdentityProvider,
    client: Client,
    redirect_uri: str,
    params: dict[str, str],
    *,
    error: str | None = None,
) -> Response:
    """A checked authorization request: skip the form for a genuine SSO cookie, else show it."""
    root = cookies.auth_session_root(request, idp) or new_id(18)
    login = PendingLogin(
        id=new_id(24),
        root=root,
        params=params,
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        expires_at=idp.clock.now() + idp.realm.access_code_lifespan_login,
    )
    prompt = params.get("prompt", "").split()
    session = cookies.identity_session(request, idp)
    if session is not None and "login" not in prompt:
        response = _after_authentication(idp, login, session, acr="0")
    elif "none" in prompt:
        response = _respond(idp, params, redirect_uri, {"error": "login_required"})  # Keycloak gives no description
    else:
        idp.store.logins[login.id] = login
        response = _login_form(idp, login, error=error, username=params.get("login_hint", ""))
    if login.id in idp.store.logins:  # a form is waiting: it counts only from this browser
        cookies.set_login_session(response, idp, root, params)
    if session is None and cookies.has_identity(request):
        cookies.clear_identity(response, idp)  # as Keycloak does with a cookie it cannot use
    return response


def _pending_login(request: Request, idp: IdentityProvider) -> PendingLogin | Response:
    """The login a form was shown for, when POSTed from the browser that was shown it.

    Anything else (no cookies, another browser's, an expired form) is what Keycloak answers:
    a restart of this browser's own login from its KC_RESTART cookie, with the "timed out"
    message, or without that cookie the "Restart login cookie not found" page. A login form
    an attacker POSTs through the victim's browser (login CSRF) thus never logs anyone in."""
    login = idp.store.logins.get(request.query_params.get("session_code", ""))
    root = cookies.auth_session_root(request, idp)
    if login is not None and login.expires_at >= idp.clock.now() and root is not None and login.root == root:
        return login
    params = cookies.restart_params(request, idp)
    if params is None:
        return message_page(realm_display(idp), COOKIE_NOT_FOUND)
    try:
        client, redirect_uri = _check_client(idp, params)
    except _PageError as exc:
        return message_page(realm_display(idp), str(exc))
    return _begin(request, idp, client, redirect_uri, params, error=TIMED_OUT)


def _login_action(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """A login-action form's target: a body it cannot read is a page for the user, as in Keycloak."""

    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except OAuthError as exc:
            return message_page(realm_display(idp_of(request)), exc.description, status_code=exc.status_code)

    return answer


@_login_action
async def authenticate(request: Request) -> Response:
    """``POST login-actions/authenticate``: the login form's target."""
    idp = idp_of(request)
    login = _pending_login(request, idp)
    if not isinstance(login, PendingLogin):
        return login
    form = await read_form(request)
    username, password = form.get("username", "").strip(), form.get("password", "")
    denied = idp.faults.take("login", ("login_denied",))
    if denied is not None:
        return _login_form(idp, login, error=denied.error_description or LOGIN_DENIED, username=username)
    user = idp.check_password(username, password) if username and password else None
    if user is None:
        return _login_form(idp, login, error=INVALID_LOGIN, username=username)
    if idp.needs_password_update(user):
        login.username = user.username  # no sid yet: the session starts once the password is changed
        return _update_password_form(idp, login)
    return _start_session(idp, login, user.username)


def _start_session(idp: IdentityProvider, login: PendingLogin, username: str) -> Response:
    session = idp.store.start_session(username)
    idp.store.save()
    response = _after_authentication(idp, login, session, acr="1")
    cookies.set_identity(response, idp, session)
    return response


@_login_action
async def required_action(request: Request) -> Response:
    """``POST login-actions/required-action``: the update-password form's target."""
    idp = idp_of(request)
    login = _pending_login(request, idp)
    if not isinstance(login, PendingLogin):
        return login
    user = idp.find_user(login.username) if login.username and login.sid is None else None
    if user is None:
        return message_page(realm_display(idp), TIMED_OUT)
    form = await read_form(request)
    new, confirm = form.get("password-new", ""), form.get("password-confirm", "")
    if not new:
        return _update_password_form(idp, login, error="Please specify password.")
    if new != confirm:
        return _update_password_form(idp, login, error="Passwords don't match.")
    idp.directory.reset_password(user, {"value": new, "temporary": False})
    return _start_session(idp, login, user.username)


@_login_action
async def consent(request: Request) -> Response:
    """``POST login-actions/consent``: the consent page's target."""
    idp = idp_of(request)
    login = _pending_login(request, idp)
    if not isinstance(login, PendingLogin):
        return login
    session = idp.live_session(login.sid)
    if session is None:
        return message_page(realm_display(idp), TIMED_OUT)
    form = await read_form(request)
    if "accept" not in form:
        idp.store.logins.pop(login.id, None)
        return _respond(
            idp,
            login.params,
            login.redirect_uri,
            {"error": "access_denied", "error_description": "User denied consent"},
        )
    idp.store.grant_consent(session.username, login.client_id)
    idp.store.save()
    return _issue_code(idp, login, session, acr="1")


async def fault_redirect(request: Request, fault: Fault) -> Response | None:
    """An injected ``oauth_error`` at /auth goes back to the client, as a real one would."""
    if fault.kind != "oauth_error":
        return None
    idp = idp_of(request)
    try:
        params = await read_form(request) if request.method == "POST" else parse_params(request.url.query)
        _, redirect_uri = _check_client(idp, params)
    except (OAuthError, _PageError):
        return None  # not redirectable: the JSON error it is
    return _respond(
        idp, params, redirect_uri, {"error": fault.error or "server_error", "error_description": fault.description}
    )


def routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/protocol/openid-connect/auth", authorize, methods=["GET", "POST"]),
        Route(f"{prefix}/login-actions/authenticate", authenticate, methods=["POST"]),
        Route(f"{prefix}/login-actions/consent", consent, methods=["POST"]),
        Route(f"{prefix}/login-actions/required-action", required_action, methods=["POST"]),
    ]
