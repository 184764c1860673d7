"""``/admin/realms/{realm}/users``: list, count, create, read, update, delete, reset password."""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mock_idp.admin.auth import admin_endpoint
from mock_idp.admin.params import created, flag, json_body, page
from mock_idp.admin.representations import user_rep
from mock_idp.idp import IdentityProvider
from mock_idp.realm import User

_FIELDS = {"username": "username", "email": "email", "firstName": "first_name", "lastName": "last_name"}


def _matches(user: User, query: QueryParams) -> bool:
    """Keycloak's user search: case-insensitive substrings, or whole values with ``exact=true``."""
    exact = flag(query, "exact", False)

    def like(value: str | None, wanted: str) -> bool:
        value, wanted = (value or "").lower(), wanted.lower()
        return value == wanted if exact else wanted in value

    for param, attribute in _FIELDS.items():
        wanted = query.get(param)
        if wanted is not None and not like(getattr(user, attribute), wanted):
            return False
    search = (query.get("search") or "").strip().strip("*")
    if search and not any(search.lower() in (getattr(user, a) or "").lower() for a in _FIELDS.values()):
        return False
    for param, value in (("enabled", user.enabled), ("emailVerified", user.email_verified)):
        if query.get(param) is not None and flag(query, param, False) != value:
            return False
    return True


def _found(idp: IdentityProvider, query: QueryParams) -> list[User]:
    return [user for user in idp.directory.users() if _matches(user, query)]


@admin_endpoint
async def list_users(request: Request, idp: IdentityProvider) -> Response:
    brief = flag(request.query_params, "briefRepresentation", False)
    users = _found(idp, request.query_params)[page(request.query_params)]
    return JSONResponse([user_rep(idp, user, brief=brief, listed=True) for user in users])


@admin_endpoint
async def count_users(request: Request, idp: IdentityProvider) -> Response:
    return JSONResponse(len(_found(idp, request.query_params)))


@admin_endpoint
async def create_user(request: Request, idp: IdentityProvider) -> Response:
    user = idp.directory.create_user(await json_body(request))
    return created(idp, "users", idp.realm.user_id(user))


@admin_endpoint
async def get_user(request: Request, idp: IdentityProvider) -> Response:
    return JSONResponse(user_rep(idp, idp.directory.user(request.path_params["id"])))


@admin_endpoint
async def update_user(request: Request, idp: IdentityProvider) -> Response:
    user = idp.directory.user(request.path_params["id"])
    idp.directory.update_user(user, await json_body(request))
    return Response(status_code=204)


@admin_endpoint
async def delete_user(request: Request, idp: IdentityProvider) -> Response:
    idp.directory.delete_user(idp.directory.user(request.path_params["id"]))
    return Response(status_code=204)


@admin_endpoint
async def reset_password(request: Request, idp: IdentityProvider) -> Response:
    user = idp.directory.user(request.path_params["id"])
    idp.directory.reset_password(user, await json_body(request))
    return Response(status_code=204)


def routes(base: str) -> list[Route]:
    return [
        Route(f"{base}/users", list_users, methods=["GET"]),
        Route(f"{base}/users", create_user, methods=["POST"]),
        Route(f"{base}/users/count", count_users, methods=["GET"]),
        Route(f"{base}/users/{{id}}", get_user, methods=["GET"]),
        Route(f"{base}/users/{{id}}", update_user, methods=["PUT"]),
        Route(f"{base}/users/{{id}}", delete_user, methods=["DELETE"]),
        Route(f"{base}/users/{{id}}/reset-password", reset_password, methods=["PUT"]),
    ]
