"""One module per endpoint; each exports ``routes(prefix)``."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request

from mock_idp.idp import IdentityProvider


def idp_of(request: Request) -> IdentityProvider:
    idp = cast(IdentityProvider, request.app.state.idp)
    idp.directory.sync()  # users another replica's admin API changed
    return idp


def realm_display(idp: IdentityProvider) -> str:
    return idp.realm.display_name or idp.realm.name
