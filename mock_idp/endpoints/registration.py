"""Dynamic Client Registration (RFC 7591, with RFC 7592 read/delete) under the realm's anonymous policies.

Policy rejections answer like Keycloak: ``403 insufficient_scope`` with
"Policy '<name>' rejected request to client-registration service. Details: ...".
Malformed metadata answers RFC 7591's ``invalid_client_metadata`` /
``invalid_redirect_uri`` with 400.
"""

from __future__ import annotations

import hmac
import ipaddress
import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mock_idp.bearer import bearer_token
from mock_idp.bodies import read_json_object
from mock_idp.endpoints import idp_of
from mock_idp.errors import NO_STORE, OAuthError
from mock_idp.idp import IdentityProvider
from mock_idp.realm import Client, RegistrationPolicy
from mock_idp.redirects import is_absolute_uri
from mock_idp.store import RegisteredClient, new_id

AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", "password")
RESPONSE_TYPES = ("code", "none")
_URI_FIELDS = ("client_uri", "logo_uri", "policy_uri", "tos_uri", "jwks_uri")
_LOOPBACK_NAMES = {"localhost": {"127.0.0.1", "::1"}}


def _metadata_error(description: str) -> OAuthError:
    return OAuthError("invalid_client_metadata", description, 400)


def _strings(data: dict[str, Any], name: str, default: list[str]) -> list[str]:
    value = data.get(name, default)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _metadata_error(f"{name} must be an array of strings")
    return value


def _string(data: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = data.get(name, default)
    if value is not None and not isinstance(value, str):
        raise _metadata_error(f"{name} must be a string")
    return value


def _validate(data: dict[str, Any]) -> dict[str, Any]:
    """RFC 7591 §2 metadata -> the subset the mock stores, type-checked."""
    redirect_uris = _strings(data, "redirect_uris", [])
    for uri in redirect_uris:
        if not is_absolute_uri(uri):
            raise OAuthError("invalid_redirect_uri", f"Invalid redirect_uri: {uri}", 400)
    method = _string(data, "token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise _metadata_error(f"Unsupported token_endpoint_auth_method: {method}")
    grant_types = _strings(data, "grant_types", ["authorization_code", "refresh_token"])
    response_types = _strings(data, "response_types", ["code"])
    for name, values, allowed in (
        ("grant_types", grant_types, GRANT_TYPES),
        ("response_types", response_types, RESPONSE_TYPES),
    ):
        unsupported = [v for v in values if v not in allowed]
        if unsupported:
            raise _metadata_error(f"Unsupported {name}: {', '.join(unsupported)}")
    if "authorization_code" in grant_types and not redirect_uris:
        raise OAuthError("invalid_redirect_uri", "redirect_uris are required for the authorization_code grant", 400)
    metadata: dict[str, Any] = {
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": method,
        "grant_types": grant_types,
        "response_types": response_types,
    }
    for name in ("client_name", "scope", *_URI_FIELDS):
        value = _string(data, name)
        if value is not None:
            metadata[name] = value
    return metadata


def _rejected(policy: RegistrationPolicy, details: str) -> OAuthError:
    return OAuthError(
        "insufficient_scope",
        f"Policy '{policy.name}' rejected request to client-registration service. Details: {details}",
        403,
    )


def _host_trusted(host: str, trusted: list[str]) -> bool:
    host = host.lower().strip("[]")
    for entry in trusted:
        entry = entry.lower()
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry or host in _LOOPBACK_NAMES.get(entry, ()):
            return True
    return False


def _sender_trusted(request: Request, trusted: list[str]) -> bool:
    sender = request.client.host if request.client else ""
    try:
        ipaddress.ip_address(sender)
    except ValueError:
        return False
    return _host_trusted(sender, trusted)


def _apply_policies(idp: IdentityProvider, request: Request, metadata: dict[str, Any], client: dict[str, Any]) -> None:
    for policy in idp.realm.registration_policies:
        if policy.provider_id == "trusted-hosts":
            trusted = policy.values("trusted-hosts")
            if policy.flag("host-sending-registration-request-must-match", True) and not _sender_trusted(
                request, trusted
            ):
                raise _rejected(policy, "Host not trusted.")
            if policy.flag("client-uris-must-match", True):
                urls = list(metadata["redirect_uris"]) + [metadata[n] for n in _URI_FIELDS if n in metadata]
                if any(not _host_trusted(urlsplit(url).hostname or "", trusted) for url in urls):
                    raise _rejected(policy, "URI doesn't match any trusted host or trusted domain")
        elif policy.provider_id == "max-clients":
            limit = int((policy.values("max-clients") or ["200"])[0])
            if len(idp.realm.clients) + len(idp.store.registered_clients) >= limit:
                raise _rejected(policy, f"It's allowed to have max {limit} clients per realm")
        elif policy.provider_id == "consent-required":
            client["consentRequired"] = True


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


def _registration_uri(idp: IdentityProvider, client_id: str) -> str:
    return f"{idp.issuer}/clients-registrations/openid-connect/{client_id}"


async def register(request: Request) -> JSONResponse:
    idp = idp_of(request)
    if request.headers.get("authorization"):
        # Initial access tokens are not implemented; only anonymous registration is.
        raise OAuthError("invalid_token", "Failed decode token", 401)
    metadata = _validate(await read_json_object(request))
    client_id = str(uuid.uuid4())
    public = metadata["token_endpoint_auth_method"] == "none"
    grants = metadata["grant_types"]
    client: dict[str, Any] = {
        "clientId": client_id,
        "name": metadata.get("client_name"),
        "publicClient": public,
        "secret": None if public else new_id(24),
        "redirectUris": metadata["redirect_uris"],
        "standardFlowEnabled": "authorization_code" in grants,
        "directAccessGrantsEnabled": "password" in grants,
        "serviceAccountsEnabled": "client_credentials" in grants and not public,
        "consentRequired": False,
        **_client_scopes(idp, metadata.get("scope")),
    }
    _apply_policies(idp, request, metadata, client)
    token = new_id(32)
    issued = {
        **metadata,
        "client_id": client_id,
        "client_id_issued_at": idp.clock.now_int(),
        "registration_client_uri": _registration_uri(idp, client_id),
    }
    if not public:
        issued |= {"client_secret": client["secret"], "client_secret_expires_at": 0}
    idp.store.register(RegisteredClient(Client.model_validate(client), token, issued))
    return JSONResponse({**issued, "registration_access_token": token}, status_code=201, headers=NO_STORE)


def _registered(request: Request) -> tuple[IdentityProvider, RegisteredClient]:
    """The client addressed by an RFC 7592 request whose bearer token matches."""
    idp = idp_of(request)
    entry = idp.store.registered(request.path_params["client_id"])
    token = bearer_token(request.headers)
    if entry is None or not token or not hmac.compare_digest(token.encode(), entry.registration_access_token.encode()):
        raise OAuthError(
            "invalid_token", "Not authorized to view client. Not valid token or client credentials provided.", 401
        )
    return idp, entry


async def read_client(request: Request) -> JSONResponse:
    _, entry = _registered(request)
    return JSONResponse(entry.metadata, headers=NO_STORE)


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
