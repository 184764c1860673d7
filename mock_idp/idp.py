"""The live identity provider: realm + keys + clock + store (token issuance: mock_idp/issuance.py).

``app.state.idp`` is an :class:`IdentityProvider`; endpoints are thin
protocol adapters around it. Its "mock controls" section is the Python side of
the ``x-mock`` admin API: in-process callers can use those methods directly.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from mock_idp.clock import Clock
from mock_idp.cookies import CookieKeys
from mock_idp.faults import Faults
from mock_idp.keys import KeyStore
from mock_idp.master import MASTER
from mock_idp.mock_controls import MockControls
from mock_idp.realm import Client, Realm, User
from mock_idp.shared_keys import shared_cookie_keys, shared_signing_keys
from mock_idp.storage import open_store
from mock_idp.store import ClientSession, UserSession
from mock_idp.user_directory import UserDirectory


class IdentityProvider(MockControls):
    def __init__(
        self, realm: Realm, issuer_base: str, state_dir: Path, clock: Clock | None = None, store: str | None = None
    ) -> None:
        """``store``: where state lives, see :func:`mock_idp.storage.open_store` (raises StoreError)."""
        self.realm = realm
        self.issuer_base = issuer_base.rstrip("/")
        self.issuer = f"{self.issuer_base}/realms/{realm.name}"
        self.state_dir = state_dir
        self.clock = clock or Clock()
        self.store = open_store(store, state_dir, self.clock, realm.name)
        # The cookie keys' HS512 key is also the realm's secret for refresh tokens (KeyStore).
        if self.store.shared:  # every replica signs with one key and reads every cookie
            self.cookie_keys = shared_cookie_keys(self.store.durable)
            self.keys = shared_signing_keys(self.store.durable, self.clock, self.cookie_keys)
        else:
            self.cookie_keys = CookieKeys.load_or_create(state_dir)
            # The master realm signs only admin tokens: its key is made when the first is asked for.
            self.keys = KeyStore.load_or_create(
                state_dir, self.clock, self.cookie_keys, background=realm.name != MASTER
            )
        self.directory = UserDirectory(realm, self.store, self.clock)
        self.faults = Faults()

    # -- lookups ------------------------------------------------------------------

    def find_client(self, client_id: str) -> Client | None:
        client = self.realm.clients.get(client_id)
        if client is None:
            registered = self.store.registered(client_id)
            client = registered.client if registered is not None else None
        return client

    def find_user(self, username: str) -> User | None:
        user = self.realm.users.get(username)
        return user if user is not None and user.enabled else None

    def find_login(self, name: str) -> User | None:
        """The user a login form or password grant names: Keycloak matches the username in
        any case, and the email address (the realm's loginWithEmailAllowed default)."""
        wanted = name.strip().lower()
        for user in self.realm.user_list:
            if user.enabled and wanted and (user.username.lower() == wanted or (user.email or "").lower() == wanted):
                return user
        return None

    def check_password(self, username: str, password: str) -> User | None:
        user = self.find_login(username)
        if user is None or user.service_account_client_id or user.password is None:
            return None
        return user if _same(user.password, password) else None

    def needs_profile(self, user: User) -> bool:
        """Keycloak 26's user profile requires email, first and last name: without them a
        login stops at "update your profile" and the password grant is refused. (The master
        realm's bootstrap admin has none of them and signs in: that realm is exempt.)"""
        if self.realm.name == MASTER or user.service_account_client_id:
            return False
        return not (user.email and user.first_name and user.last_name)

    @staticmethod
    def needs_password_update(user: User) -> bool:
        """A temporary password (admin reset with ``temporary: true``) must be changed at the next login."""
        credential = user.password_credential
        return credential is not None and credential.temporary

    def live_session(self, sid: str | None) -> UserSession | None:
        return self.store.live_session(sid, self.session_idle_timeout, self.realm.sso_session_max_lifespan)

    def start_session(self, username: str, *, browser: bool = True) -> UserSession:
        return self.store.start_session(username, browser=browser)

    def service_account(self, client: Client) -> User:
        for user in self.realm.user_list:
            if user.service_account_client_id == client.client_id:
                return user
        return User(username=f"service-account-{client.client_id}".lower(), service_account_client_id=client.client_id)

    # -- refresh expiry (issuance is mock_idp/issuance.py) ---------------------------

    def refresh_expiry(self, session: UserSession) -> int:
        return int(
            min(session.last_refresh + self.session_idle_timeout, session.started + self.realm.sso_session_max_lifespan)
        )

    # -- validation ---------------------------------------------------------------

    def verify(self, token: str, typ: str | None) -> dict[str, Any] | None:
        """Claims of a token this realm signed, of type ``typ`` ("Bearer", "Refresh", "ID";
        None: any), else ``None``. Expiry and revocation are the caller's to check (a logout's
        ``id_token_hint`` may be expired; the refresh grant names each failure)."""
        claims = self.keys.verify(token)
        if claims is None or claims.get("iss") != self.issuer or (typ is not None and claims.get("typ") != typ):
            return None
        return claims

    def user_token_claims(self, token: str, typ: str) -> dict[str, Any] | None:
        """Claims of a live token of type ``typ``, else ``None``.

        Live means: our signature, not expired, not revoked, and — for user
        tokens — its user session and client session still exist."""
        claims = self.verify(token, typ)
        if claims is None:
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self.clock.now() or self.store.is_revoked(claims.get("jti")):
            return None
        if "sid" in claims and (
            self.live_session(claims["sid"]) is None or self.store.find_client_session(claims) is None
        ):
            return None
        return claims

    def end_session(self, sid: str) -> None:
        self.store.end_session(sid)

    def revoke_client_session(self, client_session: ClientSession) -> None:
        self.store.revoke_client_session(client_session)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
