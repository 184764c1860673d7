"""A subset of Keycloak's Admin REST API, plus the mock-only ``x-mock`` controls.

Everything lives under ``/admin/realms/{realm}/`` and takes a Bearer token
from the ``master`` realm's ``admin-cli`` client, as on Keycloak, so
python-keycloak's ``KeycloakAdmin`` works unchanged against either backend.
"""

from __future__ import annotations

from starlette.routing import Route

from mock_idp.admin import control, roles, users

BASE = "/admin/realms/{realm}"


def routes() -> list[Route]:
    # Order matters: literal paths (users/count) before their parameterised siblings.
    return [*users.routes(BASE), *roles.routes(BASE), *control.routes(BASE)]
