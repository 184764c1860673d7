"""One module per endpoint; each exports ``routes(prefix)``."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from mock_idp.idp import IdentityProvider

SSO_COOKIE = "KEYCLOAK_IDENTITY"


def idp_of(request: Request) -> IdentityProvider:
    return request.app.state.idp


def realm_display(idp: IdentityProvider) -> str:
    return idp.realm.display_name or idp.realm.name


def cookie_path(idp: IdentityProvider) -> str:
    """The SSO cookie is scoped to the realm, under wherever the app is mounted."""
    return urlsplit(idp.issuer).path + "/"
