"""Keycloak's login-action pages: the login form, the update-password form and the consent page.

Each posts to a ``login-actions/...`` URL of :mod:`mock_idp.endpoints.login_actions`, naming
the pending login (``session_code``) the way Keycloak 26.7 does.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import HTMLResponse

from mock_idp.endpoints import realm_display
from mock_idp.idp import IdentityProvider
from mock_idp.mappers import applied_scopes
from mock_idp.pages import fragment, render
from mock_idp.realm import Client
from mock_idp.store import PendingLogin


def action_url(idp: IdentityProvider, action: str, login: PendingLogin, **extra: str) -> str:
    """A form's target: ``login-actions/<action>`` with the pending login's parameters."""
    params = {"session_code": login.id, **extra, "client_id": login.client_id, "tab_id": login.id[:11]}
    return f"{idp.issuer}/login-actions/{action}?" + urlencode(params)


def _error_block(field: str, error: str | None) -> dict[str, str]:
    # Keycloak 26's markup: the message sits under the field it is about.
    block = fragment("field_error.html", field=field, message=error) if error else ""
    return {"error_block": block, "invalid": ' aria-invalid="true"' if error else ""}


def login_form(
    idp: IdentityProvider, login: PendingLogin, *, error: str | None = None, username: str = ""
) -> HTMLResponse:
    return render(
        "login.html",
        title=f"Sign in to {realm_display(idp)}",
        realm_display=realm_display(idp),
        action=action_url(idp, "authenticate", login),
        username=username,
        client_id=login.client_id,
        raw=_error_block("username", error),
    )


def update_password_form(idp: IdentityProvider, login: PendingLogin, *, error: str | None = None) -> HTMLResponse:
    """Keycloak's UPDATE_PASSWORD required action, shown after a temporary password checked out."""
    return render(
        "update_password.html",
        title="Update password",
        realm_display=realm_display(idp),
        action=action_url(idp, "required-action", login, execution="UPDATE_PASSWORD"),
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
