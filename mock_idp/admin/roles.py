"""Realm roles, users' realm-role mappings, and a minimal client lookup."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mock_idp.admin.auth import admin_endpoint
from mock_idp.admin.params import created, flag, json_body, page
from mock_idp.admin.representations import client_rep, role_rep
from mock_idp.bodies import read_json
from mock_idp.idp import IdentityProvider


@admin_endpoint
async def list_roles(request: Request, idp: IdentityProvider) -> Response:
    query = request.query_params
    search = (query.get("search") or "").lower()
    found = [role for role in idp.directory.roles() if search in role.name.lower()][page(query)]
    return JSONResponse([role_rep(idp, role, brief=flag(query, "briefRepresentation", True)) for role in found])


@admin_endpoint
async def get_role(request: Request, idp: IdentityProvider) -> Response:
    return JSONResponse(role_rep(idp, idp.directory.role(request.path_params["role_name"])))


@admin_endpoint
async def create_role(request: Request, idp: IdentityProvider) -> Response:
    role = idp.directory.create_role(await json_body(request))
    return created(idp, "roles", role.name)


@admin_endpoint
async def user_realm_roles(request: Request, idp: IdentityProvider) -> Response:
    user = idp.directory.user(request.path_params["id"])
    return JSONResponse([role_rep(idp, role, brief=True) for role in idp.directory.direct_roles(user)])


@admin_endpoint
async def user_effective_realm_roles(request: Request, idp: IdentityProvider) -> Response:
    user = idp.directory.user(request.path_params["id"])
    effective = idp.realm.effective_roles(user)
    return JSONResponse([role_rep(idp, role, brief=True) for role in idp.directory.roles() if role.name in effective])


@admin_endpoint
async def user_role_mappings(request: Request, idp: IdentityProvider) -> Response:
    user = idp.directory.user(request.path_params["id"])
    roles = idp.directory.direct_roles(user)
    # Keycloak's MappingsRepresentation leaves out empty parts.
    return JSONResponse({"realmMappings": [role_rep(idp, role, brief=True) for role in roles]} if roles else {})


@admin_endpoint
async def add_realm_roles(request: Request, idp: IdentityProvider) -> Response:
    user = idp.directory.user(request.path_params["id"])
    idp.directory.map_roles(user, await read_json(request), add=True)
    return Response(status_code=204)


@admin_endpoint
async def remove_realm_roles(request: Request, idp: IdentityProvider) -> Response:
    user = idp.directory.user(request.path_params["id"])
    idp.directory.map_roles(user, await read_json(request), add=False)
    return Response(status_code=204)


@admin_endpoint
async def list_clients(request: Request, idp: IdentityProvider) -> Response:
    wanted = request.query_params.get("clientId")
    clients = [idp.find_client(client_id) for client_id in [*idp.realm.clients, *idp.store.registered_clients.keys()]]
    found = [c for c in clients if c is not None and (wanted is None or c.client_id == wanted)]
    return JSONResponse([client_rep(idp, client) for client in found][page(request.query_params)])


def routes(base: str) -> list[Route]:
    mappings = f"{base}/users/{{id}}/role-mappings"
    return [
        Route(f"{base}/roles", list_roles, methods=["GET"]),
        Route(f"{base}/roles", create_role, methods=["POST"]),
        Route(f"{base}/roles/{{role_name}}", get_role, methods=["GET"]),
        Route(mappings, user_role_mappings, methods=["GET"]),
        Route(f"{mappings}/realm", user_realm_roles, methods=["GET"]),
        Route(f"{mappings}/realm", add_realm_roles, methods=["POST"]),
        Route(f"{mappings}/realm", remove_realm_roles, methods=["DELETE"]),
        Route(f"{mappings}/realm/composite", user_effective_realm_roles, methods=["GET"]),
        Route(f"{base}/clients", list_clients, methods=["GET"]),
    ]
