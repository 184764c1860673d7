"""Admin API request parsing (query parameters the lenient way Keycloak's JAX-RS resources
read them, JSON bodies) and the ``201 Created`` answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from mock_idp.bodies import read_json_object
from mock_idp.errors import admin_bad_request
from mock_idp.idp import IdentityProvider

DEFAULT_MAX = 100


def flag(query: QueryParams, name: str, default: bool) -> bool:
    value = query.get(name)
    return default if value is None else value.strip().lower() == "true"


def page(query: QueryParams) -> slice:
    """``first``/``max`` as a slice; Keycloak's default page is 100 entries."""
    bounds = []
    for name, default in (("first", 0), ("max", DEFAULT_MAX)):
        raw = query.get(name)
        try:
            value = default if raw is None else int(raw)
        except ValueError:
            raise admin_bad_request(f"{name} must be an integer", name) from None
        bounds.append(max(value, 0))
    return slice(bounds[0], bounds[0] + bounds[1])


async def json_body(request: Request) -> dict[str, Any]:
    return await read_json_object(request, "invalid_request")


def created(idp: IdentityProvider, collection: str, name: str) -> Response:
    """201 with the new object's URL, whose last segment python-keycloak reads as its id."""
    location = f"{idp.issuer_base}/admin/realms/{quote(idp.realm.name, safe='')}/{collection}/{quote(name, safe='')}"
    return Response(status_code=201, headers={"Location": location})
