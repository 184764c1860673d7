"""Token endpoint (RFC 6749 §3.2) with Keycloak's grant rules and error texts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mock_idp import pkce
from mock_idp.bodies import read_form
from mock_idp.client_auth import authenticate_client
from mock_idp.endpoints import idp_of
from mock_idp.errors import NO_STORE, OAuthError, invalid_grant, invalid_request, unauthorized_client
from mock_idp.idp import IdentityProvider
from mock_idp.issuance import issue_tokens
from mock_idp.metadata import GRANT_TYPES
from mock_idp.realm import Client
from mock_idp.token_exchange import token_exchange

Grant = Callable[[IdentityProvider, Client, dict[str, str]], Awaitable[dict[str, Any]]]


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise invalid_request(f"Missing parameter: {name}")
    return value


async def authorization_code(idp: IdentityProvider, client: Client, form: dict[str, str]) -> dict[str, Any]:
    taken = idp.store.take_code(_required(form, "code"))
    if taken is None:
        raise invalid_grant("Code not valid")
    code, first = taken
    if not first:
        # A replayed code means it leaked: revoke what its first use issued (RFC 6749 §4.1.2).
        client_session = idp.store.existing_client_session(code.sid, code.client_id)
        if client_session is not None:
            idp.revoke_client_session(client_session)
        raise invalid_grant("Code not valid")
    if code.expires_at < idp.clock.now():
        raise invalid_grant("Code is expired")
    if code.client_id != client.client_id:
        raise invalid_grant("Auth error: Found different client_id in clientSession")
    if form.get("redirect_uri") != code.redirect_uri:
        raise invalid_grant("Incorrect redirect_uri")
    if code.code_challenge is not None:
        verifier = form.get("code_verifier")
        if not verifier:
            raise invalid_grant("PKCE code verifier not specified")
        if not pkce.verify(verifier, code.code_challenge, code.code_challenge_method or "plain"):
            raise invalid_grant("PKCE verification failed: Code mismatch")
    session = idp.live_session(code.sid)
    user = idp.find_user(code.username)
    if session is None or user is None:
        raise invalid_grant("Session not active")
    # Keycloak refreshes the session when a code is redeemed: the refresh token's idle
    # timeout starts now, not at the login a moment before.
    idp.store.touch_session(session)
    return await issue_tokens(
        idp, client, user, session, code.scope, nonce=code.nonce, acr=code.acr, grant="authorization_code"
    )


async def refresh_token(idp: IdentityProvider, client: Client, form: dict[str, str]) -> dict[str, Any]:
    if not form.get("refresh_token"):
        raise invalid_request("No refresh token")
    claims = idp.verify(form["refresh_token"], None)
    if claims is None or claims.get("typ") not in ("Refresh", "Offline"):
        raise invalid_grant("Invalid refresh token")
    # An offline token has no exp: it lives as long as its session.
    expired = not isinstance(claims.get("exp"), int) or claims["exp"] <= idp.clock.now()
    if claims["typ"] == "Refresh" and expired:
        raise invalid_grant("Token is not active")
    if claims.get("azp") != client.client_id:
        raise invalid_grant("Invalid refresh token. Token client and authorized client don't match")
    session = idp.live_session(claims.get("sid"))
    if session is None:
        raise invalid_grant("Session not active")
    client_session = idp.store.find_client_session(claims)
    if client_session is None:
        raise invalid_grant("Session doesn't have required client")
    realm = idp.realm
    if realm.revoke_refresh_token:
        uses = idp.store.use_refresh_token(client_session, str(claims.get("jti")))
        if uses is None:
            raise invalid_grant("Stale token")
        if uses > realm.refresh_token_max_reuse:
            # Keycloak treats reuse as theft and ends the whole user session.
            idp.end_session(session.sid)
            raise invalid_grant("Maximum allowed refresh token reuse exceeded")
    user = idp.find_user(session.username)
    if user is None:
        raise invalid_grant("User not found")
    idp.store.touch_session(session)
    return await issue_tokens(idp, client, user, session, str(claims.get("scope", "")), grant="refresh_token")


async def password(idp: IdentityProvider, client: Client, form: dict[str, str]) -> dict[str, Any]:
    if not client.direct_access_grants:
        raise unauthorized_client("Client not allowed for direct access grants")
    if idp.realm.invalid_scopes(client, form.get("scope", "")):
        raise OAuthError("invalid_scope", f"Invalid scopes: {form.get('scope', '')}")
    # A missing username or password is a wrong one, as in Keycloak.
    user = idp.check_password(form.get("username", ""), form.get("password", ""))
    denied = idp.faults.take("token", ("login_denied",))
    if user is None or denied is not None:
        # Keycloak 26.7 answers 400 here (seen against the real server, not 401).
        raise invalid_grant("Invalid user credentials")
    if idp.needs_password_update(user) or idp.needs_profile(user):
        raise invalid_grant("Account is not fully set up")
    session = idp.start_session(user.username, browser=False)
    return await issue_tokens(idp, client, user, session, form.get("scope", ""), grant="password")


async def client_credentials(idp: IdentityProvider, client: Client, form: dict[str, str]) -> dict[str, Any]:
    # Keycloak answers both with 401, unlike its other unauthorized_client errors.
    if client.public:
        raise OAuthError("unauthorized_client", "Public client not allowed to retrieve service account", 401)
    if not client.service_accounts:
        raise OAuthError("unauthorized_client", "Client not enabled to retrieve service account", 401)
    return await issue_tokens(idp, client, idp.service_account(client), None, form.get("scope", ""), with_refresh=False)


GRANTS: dict[str, Grant] = dict(
    zip(
        GRANT_TYPES,  # the names discovery lists, in this order
        (authorization_code, refresh_token, password, client_credentials, token_exchange),  # RFC 8693: ID-JAG only
        strict=True,
    )
)


async def token(request: Request) -> Response:
    idp = idp_of(request)
    form = await read_form(request, other_types_empty=True)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise invalid_request("Missing form parameter: grant_type")
    client = authenticate_client(request, form, idp.find_client)
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise OAuthError("unsupported_grant_type", "Unsupported grant_type")
    return JSONResponse(await grant(idp, client, form), headers=NO_STORE)


def routes(prefix: str) -> list[Route]:
    return [Route(f"{prefix}/protocol/openid-connect/token", token, methods=["POST"])]
