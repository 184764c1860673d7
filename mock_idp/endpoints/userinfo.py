"""UserInfo endpoint (OIDC Core §5.3): claims from the token's scopes' userinfo mappers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mock_idp.bodies import read_form
from mock_idp.endpoints import idp_of
from mock_idp.errors import OAuthError, invalid_token
from mock_idp.tokens import Subject, applied_scopes, mapper_claims


async def userinfo(request: Request) -> JSONResponse:
    idp = idp_of(request)
    realm = idp.realm
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    if token is None and request.method == "POST":
        token = (await read_form(request)).get("access_token")  # RFC 6750 §2.2
    if not token:
        raise invalid_token(realm.name, "Token not provided")
    claims = idp.user_token_claims(token, "Bearer")
    client = idp.find_client(str(claims.get("azp"))) if claims else None
    if claims is None or client is None:
        raise invalid_token(realm.name)
    scope = str(claims.get("scope", ""))
    if "openid" not in scope.split():
        raise OAuthError("insufficient_scope", "Missing openid scope", 403)
    session = idp.live_session(claims.get("sid"))
    user = idp.find_user(session.username) if session else idp.service_account(client)
    if user is None:
        raise invalid_token(realm.name, "User not found")
    subject = Subject(user=user, sub=realm.user_id(user), roles=realm.effective_roles(user), auth_time=session.auth_time if session else None)
    body = {"sub": subject.sub, **mapper_claims(realm, client, applied_scopes(realm, client, scope), subject, "userinfo"), **idp.user_claims(subject.sub)}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def routes(prefix: str) -> list[Route]:
    return [Route(f"{prefix}/protocol/openid-connect/userinfo", userinfo, methods=["GET", "POST"])]
