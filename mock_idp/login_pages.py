"""Keycloak's login-action pages: the login form, the update-password form and the consent page.

Each posts to a ``login-actions/...`` URL of :mod:`mock_idp.endpoints.login_actions` with the
parameters Keycloak 26.7 puts there: ``session_code`` (the pending login), ``execution`` (the
flow step), ``client_id``, ``tab_id`` and ``client_data``.
"""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import urlencode

from starlette.responses import HTMLResponse

from mock_idp.endpoints import realm_display
from mock_idp.idp import IdentityProvider
from mock_idp.login_sessions import tab_id
from mock_idp.mappers import applied_scopes
from mock_idp.pages import fragment, render
from mock_idp.realm import Client
from mock_idp.store import PendingLogin

UPDATE_PASSWORD = "UPDATE_PASSWORD"
REAUTHENTICATE = "Please re-authenticate to continue"
# Where the answer goes, under Keycloak's short names, in Keycloak's order.
_CLIENT_DATA = (("ru", "redirect_uri"), ("rt", "response_type"), ("rm", "response_mode"), ("st", "state"))


def client_data(params: dict[str, str]) -> str:
    """Keycloak's ``client_data``: base64url JSON of the request's redirect URI, response type
    and mode and state, so that a login it no longer finds can still answer the client."""
    data = {short: params[name] for short, name in _CLIENT_DATA if name in params}
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode("ascii")


def password_execution(idp: IdentityProvider) -> str:
    """The browser flow's username-password step: an id fixed per realm, as Keycloak's is."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mock-idp:{idp.realm.name}/browser/auth-username-password-form"))


def action_url(idp: IdentityProvider, action: str, login: PendingLogin, *, execution: str, form: bool = True) -> str:
    """``login-actions/<action>`` for the pending login: a form's target, or (``form=False``,
    without ``session_code``) where Keycloak redirects the browser to show the next step."""
    params = {"session_code": login.id} if form else {}
    params |= {"execution": execution, "client_id": login.client_id, "tab_id": tab_id(login)}
    params["client_data"] = client_data(login.params)
    return f"{idp.issuer}/login-actions/{action}?" + urlencode(params)


def _error_block(field: str, error: str | None) -> dict[str, str]:
    # Keycloak 26's markup: the message sits under the field it is about.
    block = fragment("field_error.html", field=field, message=error) if error else ""
    return {"error_block": block, "invalid": ' aria-invalid="true"' if error else ""}


def login_form(
    idp: IdentityProvider,
    login: PendingLogin,
    *,
    error: str | None = None,
    username: str = "",
    reauthenticate: str | None = None,
) -> HTMLResponse:
    """The username-password form; for ``reauthenticate`` (the signed-in user's name), the
    password alone, as Keycloak asks after prompt=login or a max_age that passed."""
    block = _error_block("password" if reauthenticate else "username", error)
    if reauthenticate is None:
        fields = {"username_field": fragment("login_username.html", block, username=username), "notice": ""}
        fields |= {"password_error": "", "invalid": block["invalid"]}
    else:
        # Keycloak's notice gives way to the error, if any.
        info = {"info": "" if error else fragment("login_info.html", message=REAUTHENTICATE)}
        fields = {"username_field": "", "notice": fragment("login_reauthenticate.html", info, username=reauthenticate)}
        fields |= {"password_error": block["error_block"], "invalid": block["invalid"]}
    return render(
        "login.html",
        title=f"Sign in to {realm_display(idp)}",
        realm_display=realm_display(idp),
        action=action_url(idp, "authenticate", login, execution=password_execution(idp)),
        client_id=login.client_id,
        raw=fields,
    )


def update_password_form(idp: IdentityProvider, login: PendingLogin, *, error: str | None = None) -> HTMLResponse:
    """Keycloak's UPDATE_PASSWORD required action, shown after a temporary password checked out."""
    return render(
        "update_password.html",
        title="Update password",
        realm_display=realm_display(idp),
        action=action_url(idp, "required-action", login, execution=UPDATE_PASSWORD),
        raw=_error_block("password-confirm", error),
    )


def consent_form(idp: IdentityProvider, login: PendingLogin, client: Client) -> HTMLResponse:
    action = f"{idp.issuer}/login-actions/consent?" + urlencode(
        {"session_code": login.id, "client_id": login.client_id}
    )
    scopes = applied_scopes(idp.realm, client, login.params.get("scope", ""))
    items = "".join(fragment("scope_item.html", name=scope.name) for scope in scopes if scope.include_in_token_scope)
    return render(
        "consent.html",
        title="Grant access",
        realm_display=realm_display(idp),
        action=action,
        client_name=client.name or client.client_id,
        raw={"scopes": items},
    )
