"""UserInfo endpoint (OIDC Core §5.3): claims from the token's scopes' userinfo mappers.

Errors are Keycloak's: an empty body, the reason only in ``WWW-Authenticate`` (RFC 6750 §3).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mock_idp.bearer import bearer_token
from mock_idp.bodies import read_form
from mock_idp.endpoints import idp_of
from mock_idp.mappers import Subject, applied_scopes, mapper_claims


def _refused(realm_name: str, status: int = 401, error: str | None = None, description: str | None = None) -> Response:
    challenge = f'Bearer realm="{realm_name}"'
    if error:
        challenge += f', error="{error}", error_description="{description}"'
    return Response(
        b"",
        status_code=status,
        media_type="text/plain",
        headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
    )


async def userinfo(request: Request) -> Response:
    idp = idp_of(request)
    realm = idp.realm
    token = bearer_token(request.headers)
    if token is None and request.method == "POST":
        token = (await read_form(request)).get("access_token")  # RFC 6750 §2.2
    if not token:
        return _refused(realm.name)
    claims = idp.verify(token, "Bearer")
    if claims is not None and claims.get("sid") and idp.live_session(claims["sid"]) is None:
        return _refused(realm.name, error="invalid_token", description="user_session_not_found")
    claims = idp.user_token_claims(token, "Bearer")
    client = idp.find_client(str(claims.get("azp"))) if claims else None
    if claims is None or client is None:
        return _refused(realm.name, error="invalid_token", description="Token verification failed")
    scope = str(claims.get("scope", ""))
    if "openid" not in scope.split():
        return _refused(realm.name, 403, "insufficient_scope", "Missing openid scope")
    session = idp.live_session(claims.get("sid"))
    user = idp.find_user(session.username) if session else idp.service_account(client)
    if user is None:
        return _refused(realm.name, error="invalid_token", description="User not found")
    # No auth_time here: Keycloak's userinfo does not carry the session's AUTH_TIME note.
    subject = Subject(user=user, sub=realm.user_id(user), roles=realm.effective_roles(user), auth_time=None)
    body = {
        "sub": subject.sub,
        **mapper_claims(realm, client, applied_scopes(realm, client, scope), subject, "userinfo"),
        **idp.user_claims(subject.sub),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def routes(prefix: str) -> list[Route]:
    return [Route(f"{prefix}/protocol/openid-connect/userinfo", userinfo, methods=["GET", "POST"])]
