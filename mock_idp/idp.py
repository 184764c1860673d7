"""The live identity provider: realm + keys + clock + store, and token issuance.

``app.state.idp`` is an :class:`IdentityProvider`; endpoints are thin
protocol adapters around it.
"""

from __future__ import annotations

import hmac
import uuid
from pathlib import Path
from typing import Any

from mock_idp.clock import Clock
from mock_idp.keys import KeyStore
from mock_idp.realm import Client, Realm, User
from mock_idp.store import ClientSession, Store, UserSession
from mock_idp.tokens import Subject, applied_scopes, at_hash, mapper_claims, scope_claim


class IdentityProvider:
    def __init__(self, realm: Realm, issuer_base: str, state_dir: Path, clock: Clock | None = None) -> None:
        self.realm = realm
        self.issuer = f"{issuer_base.rstrip('/')}/realms/{realm.name}"
        self.state_dir = state_dir
        self.clock = clock or Clock()
        self.keys = KeyStore.load_or_create(state_dir)
        self.store = Store.open(state_dir / "state.json", self.clock)

    # -- lookups ------------------------------------------------------------------

    def find_client(self, client_id: str) -> Client | None:
        client = self.realm.clients.get(client_id)
        if client is None and client_id in self.store.registered_clients:
            client = Client.model_validate(self.store.registered_clients[client_id]["client"])
        return client

    def find_user(self, username: str) -> User | None:
        user = self.realm.users.get(username)
        return user if user is not None and user.enabled else None

    def check_password(self, username: str, password: str) -> User | None:
        user = self.find_user(username)
        if user is None or user.service_account_client_id or user.password is None:
            return None
        return user if _same(user.password, password) else None

    def live_session(self, sid: str | None) -> UserSession | None:
        return self.store.live_session(sid, self.realm.sso_session_idle_timeout, self.realm.sso_session_max_lifespan)

    def service_account(self, client: Client) -> User:
        for user in self.realm.user_list:
            if user.service_account_client_id == client.client_id:
                return user
        return User(username=f"service-account-{client.client_id}".lower(), service_account_client_id=client.client_id)

    # -- issuance -----------------------------------------------------------------

    def issue_tokens(
        self,
        client: Client,
        user: User,
        session: UserSession | None,
        requested_scope: str,
        *,
        nonce: str | None = None,
        acr: str = "1",
        with_refresh: bool = True,
    ) -> dict[str, Any]:
        """A Keycloak token response for ``user`` via ``client``."""
        realm, now = self.realm, self.clock.now_int()
        scopes = applied_scopes(realm, client, requested_scope)
        subject = Subject(user=user, sub=realm.user_id(user), roles=realm.effective_roles(user), auth_time=session.auth_time if session else None, acr=acr)
        scope = scope_claim(scopes, requested_scope)
        envelope: dict[str, Any] = {"iat": now, "iss": self.issuer, "azp": client.client_id}
        if session is not None:
            envelope["sid"] = session.sid

        access = {"exp": now + realm.access_token_lifespan, "jti": _jti(), **envelope, "typ": "Bearer"}
        access.update(mapper_claims(realm, client, scopes, subject, "access"))
        access["scope"] = scope
        access_token = self.keys.sign(access)
        response: dict[str, Any] = {
            "access_token": access_token,
            "expires_in": realm.access_token_lifespan,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
        }
        if "openid" in requested_scope.split():
            id_claims = {"exp": access["exp"], "jti": _jti(), **envelope, "aud": client.client_id, "sub": subject.sub, "typ": "ID"}
            if session is not None:
                id_claims["auth_time"] = session.auth_time
            if nonce:
                id_claims["nonce"] = nonce
            id_claims["at_hash"] = at_hash(access_token)
            id_claims.update({k: v for k, v in mapper_claims(realm, client, scopes, subject, "id").items() if k != "aud"})
            response["id_token"] = self.keys.sign(id_claims)
        if with_refresh and session is not None:
            client_session = self.store.client_session(session.sid, client.client_id)
            refresh_exp = self.refresh_expiry(session)
            refresh = {"exp": refresh_exp, "jti": _jti(), **envelope, "aud": self.issuer, "sub": subject.sub, "typ": "Refresh", "scope": scope}
            response["refresh_token"] = self.keys.sign(refresh)
            response["refresh_expires_in"] = refresh_exp - now
            self.store.record_refresh_token(client_session, refresh["jti"])
        response["not-before-policy"] = 0
        if session is not None:
            response["session_state"] = session.sid
        response["scope"] = scope
        self.store.save()
        return response

    def refresh_expiry(self, session: UserSession) -> int:
        realm = self.realm
        return int(min(session.last_refresh + realm.sso_session_idle_timeout, session.started + realm.sso_session_max_lifespan))

    # -- validation ---------------------------------------------------------------

    def user_token_claims(self, token: str, typ: str) -> dict[str, Any] | None:
        """Claims of a live token of type ``typ`` ("Bearer", "Refresh", "ID"), else ``None``.

        Live means: our signature, not expired, not revoked, and — for user
        tokens — its user session and client session still exist."""
        claims = self.keys.verify(token)
        if claims is None or claims.get("typ") != typ or claims.get("iss") != self.issuer:
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self.clock.now() or self.store.is_revoked(claims.get("jti")):
            return None
        if "sid" in claims:
            if self.live_session(claims["sid"]) is None or self.store.find_client_session(claims) is None:
                return None
        return claims

    def end_session(self, sid: str) -> None:
        self.store.end_session(sid)
        self.store.save()

    def revoke_client_session(self, client_session: ClientSession) -> None:
        self.store.revoke_client_session(client_session.id)
        self.store.save()


def _jti() -> str:
    return str(uuid.uuid4())


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
