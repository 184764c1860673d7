"""``/admin/realms/{realm}/x-mock/...``: controls only the mock has (Keycloak answers 404 here).

Each handler is a thin JSON adapter over an :class:`IdentityProvider` method
of the same name; bad input is a :class:`SpecError` (400 naming the field).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mock_idp.admin.auth import admin_endpoint
from mock_idp.admin.params import json_body
from mock_idp.faults import Fault
from mock_idp.idp import IdentityProvider
from mock_idp.typed_bodies import ClaimsBody, ClockStep, LifetimesBody, Rotation, parse


def _user_id(request: Request, idp: IdentityProvider) -> str:
    user = idp.directory.user(request.path_params["id"])  # 404 "User not found" like the admin API
    return idp.realm.user_id(user)


@admin_endpoint
async def get_claims(request: Request, idp: IdentityProvider) -> Response:
    return JSONResponse({"claims": idp.user_claims(_user_id(request, idp))})


@admin_endpoint
async def set_claims(request: Request, idp: IdentityProvider) -> Response:
    user_id = _user_id(request, idp)
    body = parse(ClaimsBody, await json_body(request))
    return JSONResponse({"claims": idp.set_user_claims(user_id, body.claims)})


@admin_endpoint
async def clear_claims(request: Request, idp: IdentityProvider) -> Response:
    idp.clear_user_claims(_user_id(request, idp))
    return Response(status_code=204)


def _lifetimes(idp: IdentityProvider) -> dict[str, Any]:
    return {**idp.lifetimes, "overridden": sorted(idp.store.lifetimes())}


@admin_endpoint
async def get_lifetimes(request: Request, idp: IdentityProvider) -> Response:
    return JSONResponse(_lifetimes(idp))


@admin_endpoint
async def set_lifetimes(request: Request, idp: IdentityProvider) -> Response:
    idp.set_lifetimes(**parse(LifetimesBody, await json_body(request)).model_dump())
    return JSONResponse(_lifetimes(idp))


@admin_endpoint
async def reset_lifetimes(request: Request, idp: IdentityProvider) -> Response:
    idp.reset_lifetimes()
    return Response(status_code=204)


def _clock(idp: IdentityProvider) -> dict[str, float]:
    return {"now": idp.clock.now(), "offset": idp.clock.offset}


@admin_endpoint
async def get_clock(request: Request, idp: IdentityProvider) -> Response:
    return JSONResponse(_clock(idp))


@admin_endpoint
async def advance_clock(request: Request, idp: IdentityProvider) -> Response:
    idp.advance_clock(parse(ClockStep, await json_body(request)).seconds)
    return JSONResponse(_clock(idp))


@admin_endpoint
async def reset_clock(request: Request, idp: IdentityProvider) -> Response:
    idp.reset_clock()
    return Response(status_code=204)


def _keys(idp: IdentityProvider) -> dict[str, Any]:
    retired = [
        {"kid": entry.kid, "until": entry.until}
        for entry in idp.keys.retired
        if entry.kid in idp.keys.verification_keys()
    ]
    return {"active": idp.keys.kid, "retired": retired}


@admin_endpoint
async def get_keys(request: Request, idp: IdentityProvider) -> Response:
    return JSONResponse(_keys(idp))


@admin_endpoint
async def rotate_keys(request: Request, idp: IdentityProvider) -> Response:
    body = parse(Rotation, await json_body(request))
    previous = idp.keys.kid
    kid = idp.rotate_keys(keep_old=body.keep_old, grace_seconds=body.grace_seconds)
    return JSONResponse({"kid": kid, "previous": previous, **_keys(idp)})


@admin_endpoint
async def add_fault(request: Request, idp: IdentityProvider) -> Response:
    fault = idp.faults.add(Fault.from_spec(await json_body(request)))
    return JSONResponse(fault.as_dict(), status_code=201)


@admin_endpoint
async def list_faults(request: Request, idp: IdentityProvider) -> Response:
    return JSONResponse({"faults": [fault.as_dict() for fault in idp.faults.armed]})


@admin_endpoint
async def remove_fault(request: Request, idp: IdentityProvider) -> Response:
    fault_id = request.path_params["fault_id"]
    if not idp.remove_fault(fault_id):
        return _not_found(f"No armed fault {fault_id!r} (one-shot faults disappear once they fired)")
    return Response(status_code=204)


@admin_endpoint
async def clear_faults(request: Request, idp: IdentityProvider) -> Response:
    idp.clear_faults()
    return Response(status_code=204)


@admin_endpoint
async def unknown(request: Request, idp: IdentityProvider) -> Response:
    return _not_found(f"No mock control at {request.method} x-mock/{request.path_params['rest']}")


def _not_found(description: str) -> JSONResponse:
    return JSONResponse({"error": "not_found", "error_description": description}, status_code=404)


def routes(base: str) -> list[Route]:
    x = f"{base}/x-mock"
    return [
        Route(f"{x}/users/{{id}}/claims", get_claims, methods=["GET"]),
        Route(f"{x}/users/{{id}}/claims", set_claims, methods=["PUT"]),
        Route(f"{x}/users/{{id}}/claims", clear_claims, methods=["DELETE"]),
        Route(f"{x}/lifetimes", get_lifetimes, methods=["GET"]),
        Route(f"{x}/lifetimes", set_lifetimes, methods=["PUT"]),
        Route(f"{x}/lifetimes", reset_lifetimes, methods=["DELETE"]),
        Route(f"{x}/clock", get_clock, methods=["GET"]),
        Route(f"{x}/clock", reset_clock, methods=["DELETE"]),
        Route(f"{x}/clock/advance", advance_clock, methods=["POST"]),
        Route(f"{x}/keys", get_keys, methods=["GET"]),
        Route(f"{x}/keys/rotate", rotate_keys, methods=["POST"]),
        Route(f"{x}/faults", list_faults, methods=["GET"]),
        Route(f"{x}/faults", add_fault, methods=["POST"]),
        Route(f"{x}/faults", clear_faults, methods=["DELETE"]),
        Route(f"{x}/faults/{{fault_id}}", remove_fault, methods=["DELETE"]),
        # Last: anything else under x-mock is a clear JSON 404.
        Route(f"{x}/{{rest:path}}", unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
