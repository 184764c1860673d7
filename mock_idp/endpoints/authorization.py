"""Authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): checks the request, then signs in by SSO cookie or shows the login form.

Errors that cannot safely go back to the client (unknown client, unregistered
redirect URI) render a 400 page; the rest redirect to the client with
``error``, ``error_description``, ``state`` and ``iss`` (RFC 9207). The forms the
browser then posts are Keycloak's login actions (:mod:`mock_idp.endpoints.login_actions`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mock_idp import cookies, pkce
from mock_idp.bodies import parse_params, read_form
from mock_idp.digits import parse_decimal
from mock_idp.endpoints import idp_of, realm_display
from mock_idp.errors import OAuthError
from mock_idp.faults import Fault
from mock_idp.idp import IdentityProvider
from mock_idp.login_pages import consent_form, login_form
from mock_idp.login_sessions import login_session
from mock_idp.pages import fragment, message_page, render
from mock_idp.realm import Client
from mock_idp.redirects import matches, with_params
from mock_idp.store import AuthorizationCode, PendingLogin, UserSession, new_id

RESPONSE_MODES = ("query", "fragment", "form_post")
# OIDC's response types that issue tokens from /auth: Keycloak knows them, and the mock's
# clients have the implicit flow off, as Keycloak's clients have by default.
IMPLICIT_RESPONSE_TYPES = frozenset(
    {"token", "id_token", "id_token token", "code id_token", "code token", "code id_token token"}
)


class PageError(Exception):
    """Not redirectable: shown to the user."""


class _RedirectError(Exception):
    """``mode``: where the error goes when not where the request asked (Keycloak answers an
    implicit response type in the fragment, as that flow would)."""

    def __init__(self, error: str, description: str | None, mode: str | None = None) -> None:
        super().__init__(description or error)
        self.error, self.description, self.mode = error, description, mode


def check_client(idp: IdentityProvider, params: dict[str, str]) -> tuple[Client, str]:
    client = idp.find_client(params.get("client_id", ""))
    if client is None:
        raise PageError("Client not found.")
    if not client.enabled:
        raise PageError("Client disabled.")
    redirect_uri = params.get("redirect_uri")
    # Keycloak 26.7 requires it even where the client registered a single URI.
    if redirect_uri is None or not matches(redirect_uri, client.redirect_uris):
        raise PageError("Invalid parameter: redirect_uri")
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


def respond(idp: IdentityProvider, params: dict[str, str], redirect_uri: str, values: dict[str, str]) -> Response:
    values = {**values, "iss": idp.issuer}
    if params.get("state") is not None:
        values["state"] = params["state"]
    mode = params.get("response_mode", "query")
    if mode == "form_post":
        fields = "".join(fragment("hidden_field.html", name=k, value=v) for k, v in values.items())
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


def issue_code(idp: IdentityProvider, login: PendingLogin, session: UserSession, acr: str) -> Response:
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
    idp.store.add_code(code)
    idp.store.drop_login(login.id)
    return respond(idp, params, login.redirect_uri, {"session_state": session.sid, "code": code.code})


def after_authentication(idp: IdentityProvider, login: PendingLogin, session: UserSession, acr: str) -> Response:
    client = idp.find_client(login.client_id)
    if client is None:
        return message_page(realm_display(idp), "Client not found.")
    # As Keycloak 26.7 does: prompt=consent asks again only where the client requires
    # consent at all (MCP clients send it with offline_access; Keycloak shows nothing).
    asked_again = "consent" in login.params.get("prompt", "").split()
    if client.consent_required and (asked_again or not idp.store.has_consent(session.username, client.client_id)):
        login.username, login.sid = session.username, session.sid
        idp.store.put_login(login)
        return consent_form(idp, login, client)
    return issue_code(idp, login, session, acr)


async def authorize(request: Request) -> Response:
    idp = idp_of(request)
    try:
        params = await read_form(request) if request.method == "POST" else parse_params(request.url.query)
        client, redirect_uri = check_client(idp, params)
    except (OAuthError, PageError) as exc:
        message = exc.description if isinstance(exc, OAuthError) else str(exc)
        return message_page(realm_display(idp), message)
    try:
        _check_request(idp, client, params)
    except _RedirectError as exc:
        answer = {"error": exc.error, **({"error_description": exc.description} if exc.description else {})}
        return respond(idp, {**params, "response_mode": exc.mode} if exc.mode else params, redirect_uri, answer)
    return begin(request, idp, client, redirect_uri, params)


def _must_sign_in_again(idp: IdentityProvider, session: UserSession, params: dict[str, str]) -> bool:
    """prompt=login, or a ``max_age`` shorter than the time since the user signed in (OIDC Core §3.1.2.1)."""
    if "login" in params.get("prompt", "").split():
        return True
    max_age = params.get("max_age", "")
    age = parse_decimal(max_age)
    return age is not None and session.auth_time is not None and session.auth_time + age < idp.clock.now()


def begin(
    request: Request,
    idp: IdentityProvider,
    client: Client,
    redirect_uri: str,
    params: dict[str, str],
    *,
    error: str | None = None,
) -> Response:
    """A checked authorization request: sign in by a genuine SSO cookie, else show the form.

    As in Keycloak 26.7, every pass joins the browser's login session (a new one, its cookie
    set, once the last login ended), and an SSO pass sets the SSO cookies again."""
    root, new_root = login_session(request, idp)
    login = PendingLogin(
        id=new_id(24),
        root=root,
        params=params,
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        expires_at=idp.clock.now() + idp.realm.access_code_lifespan_login,
    )
    silent = "none" in params.get("prompt", "").split()
    signed_in = cookies.identity_session(request, idp)
    if signed_in is not None and not _must_sign_in_again(idp, signed_in, params):
        response = after_authentication(idp, login, signed_in, acr="0")
        cookies.set_identity(response, idp, signed_in)
        if silent:
            cookies.clear_restart(response, idp)
    elif silent:
        response = respond(idp, params, redirect_uri, {"error": "login_required"})  # Keycloak gives no description
    else:
        login.reauth = signed_in.sid if signed_in is not None else None
        idp.store.put_login(login)  # the form counts only from this browser (its login session)
        reauthenticate = signed_in.username if signed_in is not None else None
        response = login_form(
            idp, login, error=error, username=params.get("login_hint", ""), reauthenticate=reauthenticate
        )
    if not silent:
        cookies.set_restart(response, idp, params)
    if new_root:
        cookies.set_login_session(response, idp, root)
    if signed_in is None and cookies.has_identity(request):
        cookies.clear_identity(response, idp)  # as Keycloak does with a cookie it cannot use
    return response


async def fault_redirect(request: Request, fault: Fault) -> Response | None:
    """An injected ``oauth_error`` at /auth goes back to the client, as a real one would."""
    if fault.kind != "oauth_error":
        return None
    idp = idp_of(request)
    try:
        params = await read_form(request) if request.method == "POST" else parse_params(request.url.query)
        _, redirect_uri = check_client(idp, params)
    except (OAuthError, PageError):
        return None  # not redirectable: the JSON error it is
    return respond(
        idp, params, redirect_uri, {"error": fault.error or "server_error", "error_description": fault.description}
    )


def routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/protocol/openid-connect/auth", authorize, methods=["GET", "POST"]),
    ]
