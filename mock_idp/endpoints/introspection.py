"""Token introspection (RFC 7662), for confidential clients, with Keycloak 26.7's rules.

A client learns about a token only when it is the token's audience (the refresh token's
holder, for a refresh token): anything else is ``{"active": false}``, as Keycloak logs
"Client ... is not in the token audience". A ``token_type_hint`` is binding.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mock_idp.bodies import read_form
from mock_idp.client_auth import authenticate_client
from mock_idp.endpoints import idp_of
from mock_idp.errors import NO_STORE, OAuthError, invalid_request
from mock_idp.idp import IdentityProvider
from mock_idp.mappers import Subject, applied_scopes, mapper_claims
from mock_idp.realm import Client

_TYPES = {"access_token": "Bearer", "refresh_token": "Refresh", "id_token": "ID"}
INACTIVE = {"active": False}
# The refresh token's own bookkeeping, which Keycloak leaves out of the answer.
_UNSHOWN = frozenset({"at_hash", "aud_x", "prov", "reuse_id"})
WRONG_SECRET = OAuthError("invalid_client", "Client authentication failed.", 401)


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else [str(item) for item in aud or []]


def _concerns(caller: Client, claims: dict[str, Any]) -> bool:
    if claims.get("typ") == "Refresh":
        return claims.get("azp") == caller.client_id
    return caller.client_id in _audiences(claims)


def _answer(idp: IdentityProvider, claims: dict[str, Any]) -> dict[str, Any]:
    """The token's claims, completed by the realm's introspection mappers (Keycloak rebuilds
    the answer from the session, so a refresh or ID token shows the user's claims too)."""
    realm = idp.realm
    body = {key: value for key, value in claims.items() if key not in _UNSHOWN}
    session = idp.live_session(claims.get("sid"))
    holder = idp.find_client(str(claims.get("azp")))
    user = idp.find_user(session.username) if session is not None else None
    if holder is not None and user is not None and session is not None:
        subject = Subject(
            user=user, sub=realm.user_id(user), roles=realm.effective_roles(user), auth_time=session.auth_time
        )
        mapped = mapper_claims(
            realm, holder, applied_scopes(realm, holder, str(claims.get("scope", ""))), subject, "introspection"
        )
        audiences = _audiences(mapped) + [aud for aud in _audiences(claims) if aud not in _audiences(mapped)]
        body = {**mapped, **body}
        if audiences:
            body["aud"] = audiences[0] if len(audiences) == 1 else audiences
    body |= {"client_id": claims.get("azp"), "token_type": claims.get("typ"), "active": True}
    if "preferred_username" in body:
        body["username"] = body["preferred_username"]
    return body


async def introspect(request: Request) -> JSONResponse:
    idp = idp_of(request)
    form = await read_form(request, other_types_empty=True)
    client = authenticate_client(request, form, idp.find_client, WRONG_SECRET)
    if client.public:
        raise OAuthError("invalid_request", "Client not allowed.", 403)
    token = form.get("token")
    if not token:
        raise invalid_request("Token not provided.")
    hint = form.get("token_type_hint")
    if hint is not None and hint not in _TYPES:
        raise invalid_request("Unsupported token type.")
    for typ in [_TYPES[hint]] if hint else list(_TYPES.values()):
        claims = idp.user_token_claims(token, typ)
        if claims is not None:
            return JSONResponse(_answer(idp, claims) if _concerns(client, claims) else INACTIVE, headers=NO_STORE)
    return JSONResponse(INACTIVE, headers=NO_STORE)


def routes(prefix: str) -> list[Route]:
    return [Route(f"{prefix}/protocol/openid-connect/token/introspect", introspect, methods=["POST"])]
