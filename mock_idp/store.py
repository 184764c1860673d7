"""The IdP's mutable state behind one API: codes, logins, sessions, client sessions,
revocations, DCR clients, consents and the admin API's changes.

Each method that changes something persists it, one record at a time, through a
:class:`~mock_idp.backing.Backing`. Codes, pending logins and redemption marks are
``ephemeral`` (they expire within minutes; in memory unless the backing is shared);
everything a token's validity depends on after a restart, and every admin change, is
``durable``. Records expire by per-key TTLs where they do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from typing import Any, Generic, TypeVar

from mock_idp.backing import Backing, Value
from mock_idp.clock import Clock
from mock_idp.realm import Client
from mock_idp.records import (
    AuthorizationCode,
    ClientSession,
    PendingLogin,
    RegisteredClient,
    UserSession,
    decoder,
    new_id,
)

__all__ = ["AuthorizationCode", "ClientSession", "PendingLogin", "RegisteredClient", "Store", "UserSession", "new_id"]

STATE_FILE = "state.json"
_KEEP_REFRESH_IDS = 8  # rotation bookkeeping per client session
_CODE_GRACE = 300  # an expired code is kept this long, to answer "expired" rather than "not valid"
R = TypeVar("R")


class _View(Mapping[str, R], Generic[R]):
    """A read-only view of one collection (tests and the admin API count and look up)."""

    def __init__(self, backing: Backing, collection: str, decode: Callable[[Value], R]) -> None:
        self._backing, self._collection, self._decode = backing, collection, decode

    def __getitem__(self, key: str) -> R:
        value = self._backing.get(self._collection, key)
        if value is None:
            raise KeyError(key)
        return self._decode(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._backing.keys(self._collection))

    def __len__(self) -> int:
        return len(self._backing.keys(self._collection))


_code, _login, _session, _client_session = (
    decoder(AuthorizationCode),
    decoder(PendingLogin),
    decoder(UserSession),
    decoder(ClientSession),
)


def _registered(value: Value) -> RegisteredClient:
    return RegisteredClient(
        client=Client.model_validate(value["client"]),
        registration_access_token=str(value["registration_access_token"]),
        metadata=dict(value["metadata"]),
    )


class Store:
    """Built by :func:`mock_idp.storage.open_store`; ``shared``: other processes use the same records."""

    def __init__(
        self, clock: Clock, durable: Backing, ephemeral: Backing | None = None, *, shared: bool = False
    ) -> None:
        self.clock = clock
        self.durable = durable
        self.ephemeral = ephemeral if ephemeral is not None else durable
        self.shared = shared
        self._clients: dict[str, tuple[Value, RegisteredClient]] = {}  # parsed once per stored value
        self.codes = _View(self.ephemeral, "codes", _code)
        self.logins = _View(self.ephemeral, "logins", _login)
        self.sessions = _View(self.durable, "sessions", _session)
        self.client_sessions = _View(self.durable, "client_sessions", _client_session)
        self.registered_clients = _View(self.durable, "registered_clients", self._registered)

    def _ttl(self, expires_at: float) -> float:
        return max(expires_at - self.clock.now(), 0.001)

    # -- codes and pending logins ----------------------------------------------------

    def add_code(self, code: AuthorizationCode) -> None:
        self.ephemeral.put("codes", code.code, asdict(code), self._ttl(code.expires_at + _CODE_GRACE))

    def take_code(self, value: str) -> tuple[AuthorizationCode, bool] | None:
        """The code, and whether this call redeemed it (False: a replay); None if unknown.
        Single use from the first presentation, whatever happens next, on every replica."""
        stored = self.ephemeral.get("codes", value)
        if stored is None:
            return None
        code = _code(stored)
        first = self.ephemeral.add("redeemed", value, {}, self._ttl(code.expires_at + _CODE_GRACE))
        return code, first

    def put_login(self, login: PendingLogin) -> None:
        self.ephemeral.put("logins", login.id, asdict(login), self._ttl(login.expires_at))

    def login(self, login_id: str) -> PendingLogin | None:
        stored = self.ephemeral.get("logins", login_id) if login_id else None
        return None if stored is None else _login(stored)

    def drop_login(self, login_id: str) -> None:
        self.ephemeral.delete("logins", login_id)

    # -- user sessions ----------------------------------------------------------------

    def start_session(self, username: str, *, browser: bool = True) -> UserSession:
        now = self.clock.now()
        session = UserSession(
            sid=new_id(16), username=username, started=now, last_refresh=now, auth_time=int(now) if browser else None
        )
        self.durable.put("sessions", session.sid, asdict(session))
        return session

    def live_session(self, sid: str | None, idle_timeout: int, max_lifespan: int) -> UserSession | None:
        stored = self.durable.get("sessions", sid) if sid else None
        if stored is None:
            return None
        session, now = _session(stored), self.clock.now()
        if now > session.last_refresh + idle_timeout or now > session.started + max_lifespan:
            self.end_session(session.sid)
            return None
        return session

    def touch_session(self, session: UserSession) -> None:
        """A refresh: the session's idle timeout starts again."""
        session.last_refresh = self.clock.now()
        self.durable.put("sessions", session.sid, asdict(session))

    def reauthenticated(self, session: UserSession) -> None:
        """The user signed in again (prompt=login, max_age): the same session, a new auth_time."""
        session.auth_time = self.clock.now_int()
        self.durable.put("sessions", session.sid, asdict(session))

    def sessions_of(self, username: str) -> list[str]:
        return [sid for sid, session in self.sessions.items() if session.username == username]

    def end_session(self, sid: str) -> None:
        self.durable.delete("sessions", sid)
        for key in self._client_session_keys(sid):
            self.durable.delete("client_sessions", key)

    # -- client sessions (refresh-token families) -------------------------------------------

    @staticmethod
    def _key(sid: object, client_id: object) -> str:
        return f"{sid}/{client_id}"

    def _client_session_keys(self, sid: str) -> list[str]:
        return [key for key in self.durable.keys("client_sessions") if key.startswith(f"{sid}/")]

    def client_session(self, sid: str, client_id: str) -> ClientSession:
        """This client's session within ``sid``, started now if it has none."""
        found = self.existing_client_session(sid, client_id)
        if found is None:
            key = self._key(sid, client_id)
            found = ClientSession(id=key, sid=sid, client_id=client_id, started=self.clock.now_int())
            self.durable.put("client_sessions", key, asdict(found))
        return found

    def existing_client_session(self, sid: str, client_id: str) -> ClientSession | None:
        stored = self.durable.get("client_sessions", self._key(sid, client_id))
        return None if stored is None else _client_session(stored)

    def find_client_session(self, claims: dict[str, Any]) -> ClientSession | None:
        """The live client session that issued a user token, if any."""
        stored = self.durable.get("client_sessions", self._key(claims.get("sid"), claims.get("azp")))
        found = None if stored is None else _client_session(stored)
        return found if found is not None and found.issued(claims) else None

    def has_client_sessions(self, sid: str) -> bool:
        return bool(self._client_session_keys(sid))

    def revoke_client_session(self, client_session: ClientSession) -> None:
        """Drop a client session: its refresh and access tokens stop validating."""
        self.durable.delete("client_sessions", client_session.id)

    def record_refresh_token(self, client_session: ClientSession, refresh_jti: str) -> None:
        client_session.refresh_uses[refresh_jti] = 0
        while len(client_session.refresh_uses) > _KEEP_REFRESH_IDS:
            del client_session.refresh_uses[next(iter(client_session.refresh_uses))]
        self.durable.put("client_sessions", client_session.id, asdict(client_session))

    def use_refresh_token(self, client_session: ClientSession, refresh_jti: str) -> int | None:
        """Count a use of a refresh token; the uses before this one, or None for one never issued."""
        uses = client_session.refresh_uses.get(refresh_jti)
        if uses is not None:
            client_session.refresh_uses[refresh_jti] = uses + 1
            self.durable.put("client_sessions", client_session.id, asdict(client_session))
        return uses

    # -- revoked access tokens --------------------------------------------------------

    def is_revoked(self, jti: str | None) -> bool:
        return jti is None or self.durable.get("revoked", jti) is not None

    def revoke(self, jti: str, exp: float) -> None:
        self.durable.put("revoked", jti, {"exp": exp}, self._ttl(exp))

    # -- registered clients -------------------------------------------------------------

    def register(self, registered: RegisteredClient) -> None:
        value = {
            "client": registered.client.model_dump(mode="json", by_alias=True, exclude_none=True),
            "registration_access_token": registered.registration_access_token,
            "metadata": registered.metadata,
        }
        self.durable.put("registered_clients", registered.client.client_id, value)

    def registered(self, client_id: str) -> RegisteredClient | None:
        stored = self.durable.get("registered_clients", client_id)
        return None if stored is None else self._registered(stored, client_id)

    def _registered(self, value: Value, client_id: str | None = None) -> RegisteredClient:
        key = client_id or str(value["client"]["clientId"])
        cached = self._clients.get(key)
        if cached is None or cached[0] != value:
            cached = self._clients[key] = (value, _registered(value))
        return cached[1]

    def unregister(self, client_id: str) -> bool:
        self._clients.pop(client_id, None)
        return self.durable.delete("registered_clients", client_id)

    # -- consents, per-user claims, lifespans -------------------------------------------------

    def has_consent(self, username: str, client_id: str) -> bool:
        return client_id in (self.durable.get("consents", username) or {}).get("clients", [])

    def grant_consent(self, username: str, client_id: str) -> None:
        granted = (self.durable.get("consents", username) or {}).get("clients", [])
        if client_id not in granted:
            self.durable.put("consents", username, {"clients": [*granted, client_id]})

    def extra_claims(self, user_id: str) -> dict[str, Any]:
        return dict((self.durable.get("claims", user_id) or {}).get("claims", {}))

    def set_extra_claims(self, user_id: str, claims: dict[str, Any] | None) -> None:
        if claims is None:
            self.durable.delete("claims", user_id)
        else:
            self.durable.put("claims", user_id, {"claims": dict(claims)})

    def lifetimes(self) -> dict[str, int]:
        return {k: int(v) for k, v in (self.durable.get("settings", "lifetimes") or {}).items()}

    def set_lifetimes(self, lifetimes: dict[str, int]) -> None:
        self.durable.put("settings", "lifetimes", dict(lifetimes))

    # -- the admin API's user and role overlay (see mock_idp.user_directory) ---------------------

    def overlay_users(self) -> dict[str, dict[str, Any] | None]:
        """username -> user representation, or None once deleted; in the order first edited."""
        found = ((key, self.durable.get("users", key)) for key in self.durable.keys("users"))
        return {key: value["user"] for key, value in found if value is not None}

    def record_user(self, username: str, rep: dict[str, Any] | None) -> str:
        """Returns the overlay's new version (see :meth:`overlay_version`)."""
        self.durable.put("users", username, {"user": rep})
        return self._new_overlay_version()

    def overlay_version(self) -> str | None:
        """Changes with every user or role edit, on whichever process made it."""
        return (self.durable.get("settings", "overlay") or {}).get("version")

    def _new_overlay_version(self) -> str:
        version = new_id(12)
        self.durable.put("settings", "overlay", {"version": version})
        return version

    def forget_user(self, username: str, user_id: str) -> None:
        """A deleted user's sessions end; their claims and consents go with them."""
        for sid in self.sessions_of(username):
            self.end_session(sid)
        self.set_extra_claims(user_id, None)
        self.durable.delete("consents", username)

    def overlay_roles(self) -> dict[str, dict[str, Any]]:
        found = ((key, self.durable.get("roles", key)) for key in self.durable.keys("roles"))
        return {key: value for key, value in found if value is not None}

    def record_role(self, name: str, rep: dict[str, Any]) -> str:
        self.durable.put("roles", name, rep)
        return self._new_overlay_version()
