"""The live identity provider: realm + keys + clock + store, and token issuance.

``app.state.idp`` is an :class:`IdentityProvider`; endpoints are thin
protocol adapters around it. Its "mock controls" section is the Python side of
the ``x-mock`` admin API: in-process callers can use those methods directly.
"""

from __future__ import annotations

import hmac
import math
import uuid
from pathlib import Path
from typing import Any

from mock_idp.clock import Clock
from mock_idp.cookies import CookieKeys
from mock_idp.directory import Directory
from mock_idp.errors import SpecError
from mock_idp.faults import WRONG_AUDIENCE, WRONG_ISSUER, Fault, Faults
from mock_idp.keys import KeyStore
from mock_idp.master import MASTER
from mock_idp.realm import Client, Realm, User
from mock_idp.store import ClientSession, Store, UserSession
from mock_idp.tokens import Subject, applied_scopes, at_hash, mapper_claims, scope_claim

LIFETIMES = ("access_token", "refresh_token", "code")
# Keycloak 26.7 prefixes an online access token's jti with the grant that issued it.
JTI_PREFIXES = {"authorization_code": "onrtac:", "password": "onrtro:", "refresh_token": "onrtrt:"}
_MAX_LIFETIME = 10 * 365 * 86400
_MAX_CLOCK_STEP = 100 * 365 * 86400
# Claims that make a token what it is; per-user extra claims may not replace them.
PROTECTED_CLAIMS = frozenset({"iss", "exp", "iat", "nbf", "jti", "typ", "azp", "sid", "nonce", "at_hash", "auth_time"})


class IdentityProvider:
    def __init__(self, realm: Realm, issuer_base: str, state_dir: Path, clock: Clock | None = None) -> None:
        self.realm = realm
        self.issuer_base = issuer_base.rstrip("/")
        self.issuer = f"{self.issuer_base}/realms/{realm.name}"
        self.state_dir = state_dir
        self.clock = clock or Clock()
        self.keys = KeyStore.load_or_create(state_dir, self.clock)
        self.cookie_keys = CookieKeys.load_or_create(state_dir)
        self.store = Store.open(state_dir / "state.json", self.clock)
        self.directory = Directory(realm, self.store, self.clock)
        self.faults = Faults()

    # -- lookups ------------------------------------------------------------------

    def find_client(self, client_id: str) -> Client | None:
        client = self.realm.clients.get(client_id)
        if client is None and client_id in self.store.registered_clients:
            client = Client.model_validate(self.store.registered_clients[client_id]["client"])
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

    # -- lifespans (the realm's, unless overridden through set_lifetimes) ---------------

    @property
    def access_token_lifespan(self) -> int:
        return self.store.lifetimes.get("access_token", self.realm.access_token_lifespan)

    @property
    def session_idle_timeout(self) -> int:
        # A refresh token lives as long as its session may idle, as in Keycloak.
        return self.store.lifetimes.get("refresh_token", self.realm.sso_session_idle_timeout)

    @property
    def code_lifespan(self) -> int:
        return self.store.lifetimes.get("code", self.realm.access_code_lifespan)

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
        grant: str | None = None,
    ) -> dict[str, Any]:
        """A Keycloak token response for ``user`` via ``client``; ``grant`` (the grant_type)
        picks the access token's ``jti`` prefix, as Keycloak 26.7 writes it."""
        # The client session first: a token counts as its session's only if iat >= the
        # session's start, and a second may tick over while this method runs.
        client_session = self.store.client_session(session.sid, client.client_id) if session is not None else None
        realm, now = self.realm, self.clock.now_int()
        scopes = applied_scopes(realm, client, requested_scope)
        subject = Subject(
            user=user,
            sub=realm.user_id(user),
            roles=realm.effective_roles(user),
            auth_time=session.auth_time if session else None,
            acr=acr,
        )
        scope = scope_claim(scopes, requested_scope)
        wrong_issuer = self.faults.take("token", ("wrong_issuer",)) is not None
        wrong_audience = self.faults.take("token", ("wrong_audience",)) is not None
        envelope: dict[str, Any] = {
            "iat": now,
            "iss": WRONG_ISSUER if wrong_issuer else self.issuer,
            "azp": client.client_id,
        }
        if session is not None:
            envelope["sid"] = session.sid
        extra = self.store.extra_claims.get(subject.sub, {})

        access = {
            "exp": now + self.access_token_lifespan,
            "jti": JTI_PREFIXES.get(grant or "", "") + _jti(),
            **envelope,
            "typ": "Bearer",
        }
        access.update(mapper_claims(realm, client, scopes, subject, "access"))
        access["scope"] = scope
        access.update(extra)
        if wrong_audience:
            access["aud"] = WRONG_AUDIENCE
        access_token = self.keys.sign(access)
        response: dict[str, Any] = {
            "access_token": access_token,
            "expires_in": self.access_token_lifespan,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
        }
        if "openid" in requested_scope.split():
            id_claims = {
                "exp": access["exp"],
                "jti": _jti(),
                **envelope,
                "aud": client.client_id,
                "sub": subject.sub,
                "typ": "ID",
            }
            if session is not None and session.auth_time is not None:
                id_claims["auth_time"] = session.auth_time
            if nonce:
                id_claims["nonce"] = nonce
            id_claims["at_hash"] = at_hash(access_token)
            id_claims.update(
                {k: v for k, v in mapper_claims(realm, client, scopes, subject, "id").items() if k != "aud"}
            )
            id_claims.update(extra)
            if wrong_audience:
                id_claims["aud"] = WRONG_AUDIENCE
            response["id_token"] = self.keys.sign(id_claims)
        if with_refresh and session is not None and client_session is not None:
            refresh_exp = self.refresh_expiry(session)
            # Keycloak's refresh token names every client scope it carries, token-scope or not.
            refresh_scope = " ".join(dict.fromkeys(scope.split() + [each.name for each in scopes]))
            refresh = {
                "exp": refresh_exp,
                "jti": _jti(),
                **envelope,
                "aud": envelope["iss"],
                "sub": subject.sub,
                "typ": "Refresh",
                "scope": refresh_scope,
            }
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
        return int(
            min(session.last_refresh + self.session_idle_timeout, session.started + self.realm.sso_session_max_lifespan)
        )

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
        if "sid" in claims and (
            self.live_session(claims["sid"]) is None or self.store.find_client_session(claims) is None
        ):
            return None
        return claims

    def end_session(self, sid: str) -> None:
        self.store.end_session(sid)
        self.store.save()

    def revoke_client_session(self, client_session: ClientSession) -> None:
        self.store.revoke_client_session(client_session.id)
        self.store.save()

    # -- mock controls (the x-mock admin API; refused by a real Keycloak) ---------------

    def user_claims(self, user_id: str) -> dict[str, Any]:
        return dict(self.store.extra_claims.get(user_id, {}))

    def set_user_claims(self, user_id: str, claims: dict[str, Any]) -> dict[str, Any]:
        """Merge ``claims`` into this user's access and ID tokens and userinfo from now on
        (replacing any set before). Raises KeyError for an unknown user, SpecError for bad claims."""
        self._known_user(user_id)
        if not isinstance(claims, dict):
            raise SpecError("claims", "must be a JSON object")
        protected = sorted(PROTECTED_CLAIMS & claims.keys())
        if protected:
            raise SpecError(f"claims.{protected[0]}", f"cannot override the token's {protected[0]!r} claim")
        self.store.extra_claims[user_id] = dict(claims)
        self.store.save()
        return self.user_claims(user_id)

    def clear_user_claims(self, user_id: str) -> None:
        self._known_user(user_id)
        self.store.extra_claims.pop(user_id, None)
        self.store.save()

    def _known_user(self, user_id: str) -> None:
        if not any(self.realm.user_id(user) == user_id for user in self.realm.user_list):
            raise KeyError(user_id)

    @property
    def lifetimes(self) -> dict[str, int]:
        """Effective lifespans in seconds, the realm's unless overridden."""
        return {
            "access_token": self.access_token_lifespan,
            "refresh_token": self.session_idle_timeout,
            "code": self.code_lifespan,
        }

    def set_lifetimes(
        self, *, access_token: int | None = None, refresh_token: int | None = None, code: int | None = None
    ) -> dict[str, int]:
        """Override lifespans (None = the realm's); ``refresh_token`` is the SSO session idle timeout."""
        given = {"access_token": access_token, "refresh_token": refresh_token, "code": code}
        for name, value in given.items():
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_LIFETIME
            ):
                raise SpecError(name, f"must be a whole number of seconds, 1-{_MAX_LIFETIME}")
        self.store.lifetimes = {name: value for name, value in given.items() if value is not None}
        self.store.save()
        return self.lifetimes

    def reset_lifetimes(self) -> dict[str, int]:
        return self.set_lifetimes()

    def advance_clock(self, seconds: float) -> float:
        """Move the IdP's time (shared by every realm of the app) by ``seconds``; returns the new offset."""
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or abs(seconds) > _MAX_CLOCK_STEP
        ):
            raise SpecError("seconds", "must be a finite number of seconds (at most 100 years either way)")
        self.clock.advance(seconds)
        return self.clock.offset

    def reset_clock(self) -> None:
        self.clock.reset()

    def rotate_keys(self, *, keep_old: bool = True, grace_seconds: float = 300) -> str:
        """New active signing key; the old one stays in the JWKS for ``grace_seconds`` (IdP clock) or is dropped."""
        if not isinstance(keep_old, bool):
            raise SpecError("keep_old", "must be a boolean")
        if (
            isinstance(grace_seconds, bool)
            or not isinstance(grace_seconds, (int, float))
            or not math.isfinite(grace_seconds)
            or not 0 <= grace_seconds <= _MAX_LIFETIME
        ):
            raise SpecError("grace_seconds", f"must be a number of seconds, 0-{_MAX_LIFETIME}")
        return self.keys.rotate(keep_old=keep_old, grace_seconds=grace_seconds)

    def add_fault(self, endpoint: str | None = None, kind: str = "status", **spec: Any) -> Fault:
        """Arm a fault (see :mod:`mock_idp.faults`); ``times=None`` keeps it until removed."""
        return self.faults.add(
            Fault.from_spec({**spec, "kind": kind, **({"endpoint": endpoint} if endpoint is not None else {})})
        )

    def remove_fault(self, fault_id: str) -> bool:
        return self.faults.remove(fault_id)

    def clear_faults(self) -> None:
        self.faults.clear()


def _jti() -> str:
    return str(uuid.uuid4())


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
