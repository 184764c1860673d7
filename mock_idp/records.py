"""The mock IdP's stored records, one dataclass per kind; :mod:`mock_idp.store` keeps them.

Records are values: a handler that changes one hands it back to the store, which
persists it (so a networked backing sees every change, not only this process).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mock_idp.realm import Client

R = TypeVar("R")


def decoder(kind: type[R]) -> Callable[[Any], R]:
    """A stored value back into a ``kind`` record, checked by pydantic's validator for it, built
    at the first record read: pydantic's import is a third of a fresh mock's cold start, and a
    fresh state directory has no record to read."""
    validate: list[Callable[[Any], R]] = []

    def decode(value: Any) -> R:
        if not validate:
            from pydantic import TypeAdapter

            validate.append(TypeAdapter(kind).validate_python)
        return validate[0](value)

    return decode


def new_id(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    sid: str
    username: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    acr: str = "1"


@dataclass
class PendingLogin:
    """An /auth request waiting for the login (or consent) form."""

    id: str
    params: dict[str, str]
    client_id: str
    redirect_uri: str
    expires_at: float
    root: str = ""  # the browser's login session (its AUTH_SESSION_ID); the forms count only with it
    username: str | None = None  # set once the password checked out, pending consent
    sid: str | None = None
    # The SSO session whose user must sign in again (prompt=login, max_age): Keycloak then asks
    # for the password only, and the session goes on with a new auth_time.
    reauth: str | None = None
    logout: bool = False  # a logout confirmation waiting (logout/logout-confirm), not a login


@dataclass
class UserSession:
    sid: str
    username: str
    started: float
    last_refresh: float
    # None for a session no browser login started (the password grant): Keycloak records
    # AUTH_TIME only when a user authenticates through a flow.
    auth_time: int | None


@dataclass
class ClientSession:
    """One client's share of a user session: Keycloak's unit of refresh-token rotation."""

    id: str
    sid: str
    client_id: str
    started: int
    refresh_uses: dict[str, int] = field(default_factory=dict)  # refresh jti -> times used

    def issued(self, claims: dict[str, Any]) -> bool:
        """Did this client session issue the token? Tokens older than the session
        belong to a revoked predecessor, which is how revocation reaches access tokens."""
        iat = claims.get("iat")
        return isinstance(iat, int) and iat >= self.started


@dataclass
class RegisteredClient:
    """A client registered through DCR: validated once, when registered or loaded."""

    client: Client
    registration_access_token: str
    metadata: dict[str, Any]  # the RFC 7591 response, as GET on the client answers it
