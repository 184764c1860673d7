"""Token introspection (RFC 7662), for confidential clients as in Keycloak."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mock_idp.bodies import read_form
from mock_idp.client_auth import authenticate_client
from mock_idp.endpoints import idp_of
from mock_idp.errors import NO_STORE, OAuthError, invalid_request

# Try the hinted type first; an unknown hint is ignored (RFC 7662 §2.1).
_TYPES = {"access_token": "Bearer", "refresh_token": "Refresh", "id_token": "ID"}


async def introspect(request: Request) -> JSONResponse:
    idp = idp_of(request)
    form = await read_form(request)
    client = authenticate_client(request, form, idp.find_client)
    if client.public:
        raise OAuthError("invalid_request", "Client not allowed.", 403)
    token = form.get("token")
    if not token:
        raise invalid_request("Token not provided.")
    hinted = _TYPES.get(form.get("token_type_hint", ""))
    order = [hinted] if hinted else []
    order += [typ for typ in _TYPES.values() if typ != hinted]
    for typ in order:
        claims = idp.user_token_claims(token, typ)
        if claims is not None:
            body = {**claims, "client_id": claims.get("azp"), "token_type": typ, "active": True}
            if "preferred_username" in claims:
                body["username"] = claims["preferred_username"]
            return JSONResponse(body, headers=NO_STORE)
    return JSONResponse({"active": False}, headers=NO_STORE)


def routes(prefix: str) -> list[Route]:
    return [Route(f"{prefix}/protocol/openid-connect/token/introspect", introspect, methods=["POST"])]
