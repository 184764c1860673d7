"""Keycloak's JSON representations (UserRepresentation, RoleRepresentation, ClientRepresentation)."""

from __future__ import annotations

from typing import Any

from mock_idp.idp import IdentityProvider
from mock_idp.realm import Client, Role, User

_ACCESS = {
    "manageGroupMembership": True,
    "resetPassword": True,
    "view": True,
    "mapRoles": True,
    "impersonate": True,
    "manage": True,
}


def user_rep(idp: IdentityProvider, user: User, *, brief: bool = False, listed: bool = False) -> dict[str, Any]:
    """``listed``: as in a search result, where Keycloak 26.7 sums the caller's rights up as ``manage``."""
    rep: dict[str, Any] = {"id": idp.realm.user_id(user), "username": user.username}
    # Keycloak leaves unset names and email out rather than sending null.
    for key, value in (("firstName", user.first_name), ("lastName", user.last_name), ("email", user.email)):
        if value is not None:
            rep[key] = value
    rep |= {
        "emailVerified": user.email_verified,
        "createdTimestamp": user.created_timestamp or 0,
        "enabled": user.enabled,
        "totp": False,
        "disableableCredentialTypes": [],
        "requiredActions": ["UPDATE_PASSWORD"] if idp.needs_password_update(user) else [],
        "notBefore": 0,
    }
    if not brief:
        if user.attributes:
            rep["attributes"] = user.attributes
        rep["access"] = {"manage": True} if listed else dict(_ACCESS)
    return rep


def role_rep(idp: IdentityProvider, role: Role, *, brief: bool = False) -> dict[str, Any]:
    rep: dict[str, Any] = {"id": idp.directory.role_id(role), "name": role.name}
    if role.description is not None:
        rep["description"] = role.description
    rep |= {
        "composite": bool(role.composite or role.composites),
        "clientRole": False,
        "containerId": idp.realm.id or idp.realm.stable_id("realm", idp.realm.name),
    }
    if not brief:
        rep["attributes"] = (role.model_extra or {}).get("attributes", {})
    return rep


def client_rep(idp: IdentityProvider, client: Client) -> dict[str, Any]:
    rep: dict[str, Any] = {
        "id": client.id or idp.realm.stable_id("client", client.client_id),
        "clientId": client.client_id,
        "enabled": client.enabled,
        "clientAuthenticatorType": client.client_authenticator_type,
        "redirectUris": client.redirect_uris,
        "webOrigins": client.web_origins,
        "standardFlowEnabled": client.standard_flow,
        "implicitFlowEnabled": client.implicit_flow,
        "directAccessGrantsEnabled": client.direct_access_grants,
        "serviceAccountsEnabled": client.service_accounts,
        "publicClient": client.public,
        "consentRequired": client.consent_required,
        "fullScopeAllowed": client.full_scope_allowed,
        "protocol": client.protocol,
        "attributes": client.attributes,
    }
    if client.name is not None:
        rep["name"] = client.name
    if not client.public and client.secret:
        rep["secret"] = client.secret
    return rep
