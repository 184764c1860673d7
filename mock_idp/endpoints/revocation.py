"""Token revocation (RFC 7009): a refresh token ends its client session, an access token is listed as revoked."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mock_idp.bodies import read_form
from mock_idp.client_auth import authenticate_client
from mock_idp.endpoints import idp_of
from mock_idp.errors import NO_STORE, OAuthError, invalid_request


async def revoke(request: Request) -> Response:
    idp = idp_of(request)
    form = await read_form(request, other_types_empty=True)
    client = authenticate_client(request, form, idp.find_client)
    token = form.get("token")
    if not token:
        raise invalid_request("Token not provided")
    claims = idp.verify(token, None)
    # RFC 7009 §2.2: an invalid token is no error; Keycloak still says so, with a 200.
    if claims is None:
        return JSONResponse({"error": "invalid_token", "error_description": "Invalid token"}, headers=NO_STORE)
    if claims.get("typ") not in ("Bearer", "Refresh", "Offline"):
        raise OAuthError("unsupported_token_type", "Unsupported token type")
    if claims.get("azp") != client.client_id:
        raise OAuthError("invalid_request", "Unmatching clients", 400)
    if claims.get("typ") != "Bearer":
        client_session = idp.store.find_client_session(claims)
        if client_session is not None:
            idp.revoke_client_session(client_session)
            # A user session left without clients ends with its last one, as in Keycloak:
            # the access tokens of that session stop working too ("user_session_not_found").
            if not idp.store.has_client_sessions(client_session.sid):
                idp.end_session(client_session.sid)
    elif isinstance(claims.get("jti"), str) and isinstance(claims.get("exp"), int):
        idp.store.revoke(claims["jti"], claims["exp"])
    return Response(status_code=200, headers=NO_STORE)


def routes(prefix: str) -> list[Route]:
    return [Route(f"{prefix}/protocol/openid-connect/revoke", revoke, methods=["POST"])]
