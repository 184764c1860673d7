"""The IdP's mutable state: codes, logins, sessions, client sessions, revocations, DCR clients.

Codes and pending logins live only in memory (they expire within minutes).
Everything a token's validity depends on after a restart — user sessions,
client sessions (refresh-token families), revoked token ids, dynamically
registered clients, granted consents — is persisted as one JSON file written
atomically after each change, and so are the admin API's changes (the user and
role overlay, per-user extra claims, lifetime overrides).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mock_idp.clock import Clock
from mock_idp.persist import move_aside, write_atomic

log = logging.getLogger("mock_idp")

STATE_FILE = "state.json"
STATE_VERSION = 1
_KEEP_REFRESH_IDS = 8  # rotation bookkeeping per client session


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
    used: bool = False


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
class Store:
    clock: Clock
    path: Path | None = None
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    logins: dict[str, PendingLogin] = field(default_factory=dict)
    sessions: dict[str, UserSession] = field(default_factory=dict)
    client_sessions: dict[str, ClientSession] = field(default_factory=dict)
    revoked: dict[str, float] = field(default_factory=dict)  # jti -> exp
    registered_clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    consents: dict[str, list[str]] = field(default_factory=dict)  # username -> client ids
    overlay: dict[str, dict[str, Any]] = field(default_factory=dict)  # admin API edits, see Directory
    extra_claims: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> claims
    lifetimes: dict[str, int] = field(default_factory=dict)  # x-mock overrides of the realm's lifespans

    # -- persistence --------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, clock: Clock) -> Store:
        store = cls(clock=clock, path=path)
        if not path.exists():
            return store
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise ValueError("unexpected format or version")
            store.sessions = {k: UserSession(**v) for k, v in data["sessions"].items()}
            store.client_sessions = {k: ClientSession(**v) for k, v in data["client_sessions"].items()}
            store.revoked = {str(k): float(v) for k, v in data["revoked"].items()}
            store.registered_clients = dict(data["registered_clients"])
            store.consents = {str(k): list(v) for k, v in data["consents"].items()}
            # Absent in files written before the admin API existed.
            store.overlay = dict(data.get("overlay", {}))
            store.extra_claims = {str(k): dict(v) for k, v in data.get("extra_claims", {}).items()}
            store.lifetimes = {str(k): int(v) for k, v in data.get("lifetimes", {}).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            moved = move_aside(path)
            log.warning(
                "state file %s is corrupt (%s); kept it as %s and started with empty state", path, exc, moved.name
            )
            return cls(clock=clock, path=path)
        return store

    def save(self) -> None:
        if self.path is None:
            return
        self._prune()
        data = {
            "version": STATE_VERSION,
            "sessions": {k: asdict(v) for k, v in self.sessions.items()},
            "client_sessions": {k: asdict(v) for k, v in self.client_sessions.items()},
            "revoked": self.revoked,
            "registered_clients": self.registered_clients,
            "consents": self.consents,
            "overlay": self.overlay,
            "extra_claims": self.extra_claims,
            "lifetimes": self.lifetimes,
        }
        write_atomic(self.path, json.dumps(data, separators=(",", ":")).encode("utf-8"))

    def _prune(self) -> None:
        now = self.clock.now()
        self.revoked = {jti: exp for jti, exp in self.revoked.items() if exp > now}
        for code in [c for c, v in self.codes.items() if v.expires_at + 300 < now]:
            del self.codes[code]
        for login in [k for k, v in self.logins.items() if v.expires_at < now]:
            del self.logins[login]

    # -- sessions -----------------------------------------------------------------

    def start_session(self, username: str, *, browser: bool = True) -> UserSession:
        now = self.clock.now()
        session = UserSession(
            sid=new_id(16), username=username, started=now, last_refresh=now, auth_time=int(now) if browser else None
        )
        self.sessions[session.sid] = session
        return session

    def live_session(self, sid: str | None, idle_timeout: int, max_lifespan: int) -> UserSession | None:
        session = self.sessions.get(sid or "")
        if session is None:
            return None
        now = self.clock.now()
        if now > session.last_refresh + idle_timeout or now > session.started + max_lifespan:
            self.end_session(session.sid)
            return None
        return session

    def end_session(self, sid: str) -> None:
        self.sessions.pop(sid, None)
        for key in [k for k, v in self.client_sessions.items() if v.sid == sid]:
            self.revoke_client_session(key)

    def client_session(self, sid: str, client_id: str) -> ClientSession:
        key = f"{sid}/{client_id}"
        found = self.client_sessions.get(key)
        if found is None:
            found = ClientSession(id=key, sid=sid, client_id=client_id, started=self.clock.now_int())
            self.client_sessions[key] = found
        return found

    def revoke_client_session(self, key: str) -> None:
        """Drop a client session: its refresh and access tokens stop validating."""
        self.client_sessions.pop(key, None)

    def find_client_session(self, claims: dict[str, Any]) -> ClientSession | None:
        """The live client session that issued a user token, if any."""
        found = self.client_sessions.get(f"{claims.get('sid')}/{claims.get('azp')}")
        return found if found is not None and found.issued(claims) else None

    def record_refresh_token(self, client_session: ClientSession, refresh_jti: str) -> None:
        client_session.refresh_uses[refresh_jti] = 0
        _trim(client_session.refresh_uses, _KEEP_REFRESH_IDS)

    def is_revoked(self, jti: str | None) -> bool:
        return jti is None or jti in self.revoked

    def revoke(self, jti: str, exp: float) -> None:
        self.revoked[jti] = exp

    # -- consents -------------------------------------------------------------------

    def has_consent(self, username: str, client_id: str) -> bool:
        return client_id in self.consents.get(username, [])

    def grant_consent(self, username: str, client_id: str) -> None:
        granted = self.consents.setdefault(username, [])
        if client_id not in granted:
            granted.append(client_id)


def _trim(entries: dict[str, Any], keep: int) -> None:
    while len(entries) > keep:
        del entries[next(iter(entries))]
