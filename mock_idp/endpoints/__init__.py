"""One module per endpoint; each exports ``routes(prefix)``."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request

from mock_idp.idp import IdentityProvider


def idp_of(request: Request) -> IdentityProvider:
    return cast(IdentityProvider, request.app.state.idp)


def realm_display(idp: IdentityProvider) -> str:
    return idp.realm.display_name or idp.realm.name
