"""The provider's lifespans and mock controls: the Python side of the ``x-mock`` admin API
(mock_idp/admin/control.py); in-process callers use these methods directly. A real
Keycloak has none of them."""

from __future__ import annotations

from typing import Any

from mock_idp.clock import Clock
from mock_idp.errors import SpecError
from mock_idp.faults import Fault, Faults
from mock_idp.keys import KeyStore
from mock_idp.realm import Realm
from mock_idp.store import Store

LIFETIMES = ("access_token", "refresh_token", "code")
# Claims that make a token what it is; per-user extra claims may not replace them.
PROTECTED_CLAIMS = frozenset({"iss", "exp", "iat", "nbf", "jti", "typ", "azp", "sid", "nonce", "at_hash", "auth_time"})


class MockControls:
    """Mixed into :class:`~mock_idp.idp.IdentityProvider`, which sets these attributes.

    The controls' bodies are pydantic models (:mod:`mock_idp.typed_bodies`), imported by each
    control when called: pydantic's import is a third of a cold start, which uses no control."""

    realm: Realm
    clock: Clock
    keys: KeyStore
    store: Store
    faults: Faults

    # -- lifespans (the realm's, unless overridden through set_lifetimes) ---------------

    @property
    def access_token_lifespan(self) -> int:
        return self.store.lifetimes().get("access_token", self.realm.access_token_lifespan)

    @property
    def session_idle_timeout(self) -> int:
        # A refresh token lives as long as its session may idle, as in Keycloak.
        return self.store.lifetimes().get("refresh_token", self.realm.sso_session_idle_timeout)

    @property
    def code_lifespan(self) -> int:
        return self.store.lifetimes().get("code", self.realm.access_code_lifespan)

    # -- mock controls (the x-mock admin API; refused by a real Keycloak) ---------------

    def user_claims(self, user_id: str) -> dict[str, Any]:
        return self.store.extra_claims(user_id)

    def set_user_claims(self, user_id: str, claims: dict[str, Any]) -> dict[str, Any]:
        """Merge ``claims`` into this user's access and ID tokens and userinfo from now on
        (replacing any set before). Raises KeyError for an unknown user, SpecError for bad claims."""
        self._known_user(user_id)
        from mock_idp.typed_bodies import ClaimsBody, parse

        claims = parse(ClaimsBody, {"claims": claims}).claims
        protected = sorted(PROTECTED_CLAIMS & claims.keys())
        if protected:
            raise SpecError(f"claims.{protected[0]}", f"cannot override the token's {protected[0]!r} claim")
        self.store.set_extra_claims(user_id, claims)
        return self.user_claims(user_id)

    def clear_user_claims(self, user_id: str) -> None:
        self._known_user(user_id)
        self.store.set_extra_claims(user_id, None)

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
        from mock_idp.typed_bodies import LifetimesBody, parse

        given = parse(LifetimesBody, {"access_token": access_token, "refresh_token": refresh_token, "code": code})
        self.store.set_lifetimes(given.model_dump(exclude_none=True))
        return self.lifetimes

    def reset_lifetimes(self) -> dict[str, int]:
        return self.set_lifetimes()

    def advance_clock(self, seconds: float) -> float:
        """Move the IdP's time (shared by every realm of the app) by ``seconds``; returns the new offset."""
        from mock_idp.typed_bodies import ClockStep, parse

        self.clock.advance(parse(ClockStep, {"seconds": seconds}).seconds)
        return self.clock.offset

    def reset_clock(self) -> None:
        self.clock.reset()

    def rotate_keys(self, *, keep_old: bool = True, grace_seconds: float = 300) -> str:
        """New active signing key; the old one stays in the JWKS for ``grace_seconds`` (IdP clock) or is dropped."""
        from mock_idp.typed_bodies import Rotation, parse

        rotation = parse(Rotation, {"keep_old": keep_old, "grace_seconds": grace_seconds})
        return self.keys.rotate(keep_old=rotation.keep_old, grace_seconds=rotation.grace_seconds)

    def add_fault(self, endpoint: str | None = None, kind: str = "status", **spec: Any) -> Fault:
        """Arm a fault (see :mod:`mock_idp.faults`); ``times=None`` keeps it until removed."""
        return self.faults.add(
            Fault.from_spec({**spec, "kind": kind, **({"endpoint": endpoint} if endpoint is not None else {})})
        )

    def remove_fault(self, fault_id: str) -> bool:
        return self.faults.remove(fault_id)

    def clear_faults(self) -> None:
        self.faults.clear()
