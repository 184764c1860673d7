"""Dynamic Client Registration (RFC 7591, with RFC 7592 read/delete) as Keycloak 26.7 answers it.

The body is bound by :mod:`mock_idp.registration_metadata` (Keycloak's texts for what it
cannot bind), the realm's anonymous policies run from :mod:`mock_idp.registration_policies`,
and the answer is Keycloak's client representation: ``response_types`` ``code`` and
``none``, the client's optional scopes as ``scope``, and a registration access token, an
HS512 JWT under the realm's secret that every read replaces (RFC 7592 §3: the old one
stops working).
"""

from __future__ import annotations

import hmac
import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mock_idp.bearer import bearer_token
from mock_idp.bodies import read_body
from mock_idp.endpoints import idp_of
from mock_idp.endpoints.token import GRANTS
from mock_idp.errors import NO_STORE, OAuthError
from mock_idp.idp import IdentityProvider
from mock_idp.realm import Client
from mock_idp.redirects import is_absolute_uri
from mock_idp.registration_policies import Registration, apply_policies
from mock_idp.store import RegisteredClient, new_id

if TYPE_CHECKING:
    from mock_idp.registration_metadata import ClientMetadata

_AUTHENTICATORS = {"client_secret_jwt": "client-secret-jwt"}
# What Keycloak answers for every registered client: features the mock does not have, off.
_FIXED_FIELDS: dict[str, Any] = {
    "backchannel_logout_session_required": False,
    "dpop_bound_access_tokens": False,
    "frontchannel_logout_session_required": False,
    "request_uris": [],
    "require_pushed_authorization_requests": False,
    "subject_type": "public",
    "tls_client_certificate_bound_access_tokens": False,
}


def _checked(metadata: ClientMetadata) -> ClientMetadata:
    """What binds but Keycloak refuses: a grant the token endpoint lacks, a relative redirect URI."""
    if any(grant not in GRANTS for grant in metadata.grant_types):
        raise OAuthError("invalid_client_metadata", "Client metadata invalid", 400)
    for uri in metadata.redirect_uris:
        if not is_absolute_uri(uri):
            raise OAuthError("invalid_redirect_uri", f"Invalid redirect_uri: {uri}", 400)
    return metadata


def _client_scopes(idp: IdentityProvider, scope: str | None) -> dict[str, list[str]]:
    """Keycloak's rule, as a real 26.7.3 applied it: a registration without ``scope`` gets
    the realm's default and optional client scopes; one that names ``scope`` gets ``basic``
    as its only default and exactly the named client scopes as optional ones."""
    if scope is None:
        return {}
    known = idp.realm.client_scopes
    return {
        "defaultClientScopes": [name for name in ("basic",) if name in known],
        "optionalClientScopes": [name for name in dict.fromkeys(scope.split()) if name in known],
    }


def _new_client(idp: IdentityProvider, metadata: ClientMetadata) -> dict[str, Any]:
    """The Keycloak client representation a registration creates."""
    grants, public = metadata.grant_types, metadata.public
    logout_uris = metadata.post_logout_redirect_uris
    return {
        "clientId": str(uuid.uuid4()),
        "name": metadata.client_name,
        "publicClient": public,
        "secret": None if public else new_id(24),
        "clientAuthenticatorType": _AUTHENTICATORS.get(metadata.token_endpoint_auth_method, "client-secret"),
        "redirectUris": metadata.redirect_uris,
        "standardFlowEnabled": "authorization_code" in grants,
        "directAccessGrantsEnabled": "password" in grants,
        "serviceAccountsEnabled": "client_credentials" in grants and not public,
        "consentRequired": False,
        # "+": the redirect URIs, as Keycloak records a registration that names none.
        "attributes": {"post.logout.redirect.uris": "+" if logout_uris is None else "##".join(logout_uris)},
        **_client_scopes(idp, metadata.scope),
    }


def _representation(idp: IdentityProvider, metadata: ClientMetadata, client: dict[str, Any]) -> dict[str, Any]:
    """What Keycloak answers about a registered client (without its registration token)."""
    model = Client.model_validate(client)
    client_id = model.client_id
    answer: dict[str, Any] = {
        **_FIXED_FIELDS,
        "client_id": client_id,
        "grant_types": metadata.grant_types,
        "post_logout_redirect_uris": model.post_logout_redirect_uris,
        "redirect_uris": metadata.redirect_uris,
        "registration_client_uri": f"{idp.issuer}/clients-registrations/openid-connect/{client_id}",
        "response_types": ["code", "none"],
        "scope": " ".join(idp.realm.optional_scopes_for(model)),
        "token_endpoint_auth_method": metadata.token_endpoint_auth_method,
    }
    for name in ("client_name", "client_uri", "logo_uri", "policy_uri", "tos_uri", "jwks_uri"):
        value = getattr(metadata, name)
        if value is not None:
            answer[name] = value
    if model.secret is not None:
        answer |= {"client_secret": model.secret, "client_secret_expires_at": 0}
    return answer


def _registration_token(idp: IdentityProvider) -> str:
    """Keycloak's registration access token; it never expires (exp 0), a read replaces it."""
    claims = {
        "exp": 0,
        "iat": idp.clock.now_int(),
        "jti": str(uuid.uuid4()),
        "iss": idp.issuer,
        "aud": idp.issuer,
        "typ": "RegistrationAccessToken",
        "registration_auth": "anonymous",
        "allowed-origins": [],
    }
    return idp.keys.sign_secret(claims)


async def register(request: Request) -> JSONResponse:
    idp = idp_of(request)
    if request.headers.get("authorization"):
        # Initial access tokens are not implemented; only anonymous registration is.
        raise OAuthError("invalid_token", "Failed decode token", 401)
    if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != "application/json":
        raise OAuthError("invalid_client_metadata", "Content-Type must be application/json", 400)
    # The metadata's pydantic model is imported at the first registration, not at start-up
    # (pydantic's import is a third of a cold start).
    from mock_idp.registration_metadata import parse_metadata

    metadata = _checked(parse_metadata(await read_body(request)))
    client = _new_client(idp, metadata)
    apply_policies(Registration(idp, request, metadata, client))
    stored = {**_representation(idp, metadata, client), "client_id_issued_at": idp.clock.now_int()}
    token = _registration_token(idp)
    idp.store.register(RegisteredClient(Client.model_validate(client), token, stored))
    headers = {**NO_STORE, "Location": stored["registration_client_uri"]}
    return JSONResponse({**stored, "registration_access_token": token}, status_code=201, headers=headers)


def _registered(request: Request) -> tuple[IdentityProvider, RegisteredClient]:
    """The client addressed by an RFC 7592 request whose bearer token is its current one."""
    idp = idp_of(request)
    entry = idp.store.registered(request.path_params["client_id"])
    token = bearer_token(request.headers)
    if entry is None or not token or not hmac.compare_digest(token.encode(), entry.registration_access_token.encode()):
        raise OAuthError(
            "invalid_token", "Not authorized to view client. Not valid token or client credentials provided.", 401
        )
    return idp, entry


async def read_client(request: Request) -> JSONResponse:
    idp, entry = _registered(request)
    # Keycloak answers a read without the issue time, and with a new token in place of the old.
    answer = {key: value for key, value in entry.metadata.items() if key != "client_id_issued_at"}
    token = _registration_token(idp)
    idp.store.register(RegisteredClient(entry.client, token, entry.metadata))
    return JSONResponse({**answer, "registration_access_token": token}, headers=NO_STORE)


async def delete_client(request: Request) -> Response:
    idp, entry = _registered(request)
    idp.store.unregister(entry.client.client_id)
    return Response(status_code=204)


def routes(prefix: str) -> list[Route]:
    base = f"{prefix}/clients-registrations/openid-connect"
    return [
        Route(base, register, methods=["POST"]),
        Route(base + "/{client_id}", read_client, methods=["GET"]),
        Route(base + "/{client_id}", delete_client, methods=["DELETE"]),
    ]
