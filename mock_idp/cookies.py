"""Keycloak 26.7's browser cookies, sealed with keys from the state directory.

* ``KEYCLOAK_IDENTITY``, the SSO cookie: an HS512 JWT (typ ``Serialized-ID``, with ``sid``,
  ``sub``, ``state_checker``), HttpOnly. Its signature is what makes it a credential: the
  session id inside is public (``session_state`` in every callback, ``sid`` in every token,
  the trace), so a cookie made of the bare id would let anyone who saw one sign in.
* ``KEYCLOAK_SESSION``: the SHA-384 of the session id, readable by scripts (Keycloak's
  session iframe compares it); it grants nothing.
* ``AUTH_SESSION_ID``: the browser's login session, ``base64url(id + "." + HS512 signature)``,
  HttpOnly. A login form counts only when POSTed with the cookie of the browser that opened
  it (login CSRF: RFC 6749 §10.12, RFC 9700 §4.7).
* ``KC_RESTART``: the authorization request, encrypted (JWE ``dir`` / ``A256GCM``), HttpOnly,
  so an expired or foreign login form restarts the login instead of failing.
* ``KC_AUTH_SESSION_HASH``: the SHA-384 of the login session id, for Keycloak's login-page
  session polling (one minute).

Keycloak sets them all ``Secure; SameSite=None``, even over plain http: browsers send them on
localhost, the standard library's cookie jar does not (``sandbox.testing.headless`` keeps them
the way a browser does). It expires them with a bare header (no flags), sets AUTH_SESSION_ID
again whenever a new login session starts (each pass through /auth once the last login
ended), and the SSO cookies on every SSO pass. The mock does all of this the same way, so a
client that works here works against Keycloak.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mock_idp.persist import move_aside, write_atomic

if TYPE_CHECKING:  # Starlette's, only as types: the standalone mock answers its documents before it loads Starlette
    from joserfc.jwk import OctKey
    from starlette.requests import Request
    from starlette.responses import Response

    from mock_idp.idp import IdentityProvider
    from mock_idp.store import UserSession

log = logging.getLogger("mock_idp")

IDENTITY = "KEYCLOAK_IDENTITY"
SESSION = "KEYCLOAK_SESSION"
AUTH_SESSION = "AUTH_SESSION_ID"
RESTART = "KC_RESTART"
AUTH_SESSION_HASH = "KC_AUTH_SESSION_HASH"
KEY_FILE = "cookie-keys.json"
IDENTITY_TYPE = "Serialized-ID"
_MAX_COOKIE = 8192
_SIGNING, _ENCRYPTION = ["HS512"], ["dir", "A256GCM"]
_EPOCH = "Thu, 01 Jan 1970 00:00:10 GMT"


class CookieKeys:
    """The realm's HS512 key (signatures) and AES-256 key (KC_RESTART), random and kept in the
    state directory, so cookies survive a restart and nothing public derives them."""

    def __init__(self, signing: bytes, encryption: bytes) -> None:
        if len(signing) != 64 or len(encryption) != 32:
            raise ValueError("an HS512 key is 64 bytes, an A256GCM key 32")
        self._mac_key, self._encryption_key = signing, encryption
        self.signing_kid = str(uuid.UUID(bytes=hashlib.sha256(b"sig" + signing).digest()[:16]))
        self.encryption_kid = str(uuid.UUID(bytes=hashlib.sha256(b"enc" + encryption).digest()[:16]))

    @classmethod
    def load_or_create(cls, state_dir: Path) -> CookieKeys:
        path = state_dir / KEY_FILE
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                return cls(
                    base64.b64decode(data["hs512"], validate=True), base64.b64decode(data["aes256"], validate=True)
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                moved = move_aside(path)
                log.warning(
                    "cookie keys %s are unreadable (%s); kept them as %s and made new ones (browsers log in again)",
                    path,
                    exc,
                    moved.name,
                )
        signing, encryption = secrets.token_bytes(64), secrets.token_bytes(32)
        payload = {
            "hs512": base64.b64encode(signing).decode("ascii"),
            "aes256": base64.b64encode(encryption).decode("ascii"),
        }
        write_atomic(path, json.dumps(payload).encode("utf-8"), mode=0o600)
        return cls(signing, encryption)

    # -- primitives (joserfc at first use, as in mock_idp/keys.py: start-up makes no cookie) ----

    @functools.cached_property
    def signing(self) -> OctKey:
        from joserfc.jwk import OctKey

        return OctKey.import_key(self._mac_key)

    @functools.cached_property
    def encryption(self) -> OctKey:
        from joserfc.jwk import OctKey

        return OctKey.import_key(self._encryption_key)

    def sign_jwt(self, claims: dict[str, Any]) -> str:
        from joserfc import jwt

        return jwt.encode(
            {"alg": "HS512", "typ": "JWT", "kid": self.signing_kid}, claims, self.signing, algorithms=_SIGNING
        )

    def verify_jwt(self, token: str) -> dict[str, Any] | None:
        if len(token) > _MAX_COOKIE or token.count(".") != 2:
            return None
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            claims = jwt.decode(token, self.signing, algorithms=_SIGNING).claims
        except (JoseError, ValueError, TypeError, UnicodeError):
            return None
        return claims if isinstance(claims, dict) else None

    def mac(self, value: str) -> str:
        digest = hmac.new(self._mac_key, value.encode("utf-8"), hashlib.sha512).digest()
        return _b64url(digest)

    def encrypt(self, payload: dict[str, Any]) -> str:
        from joserfc import jwe

        header = {"alg": "dir", "enc": "A256GCM", "kid": self.encryption_kid}
        return jwe.encrypt_compact(
            header, json.dumps(payload, separators=(",", ":")).encode("utf-8"), self.encryption, algorithms=_ENCRYPTION
        )

    def decrypt(self, token: str) -> dict[str, Any] | None:
        if len(token) > _MAX_COOKIE:
            return None
        from joserfc import jwe
        from joserfc.errors import JoseError

        try:
            plaintext = jwe.decrypt_compact(token, self.encryption, algorithms=_ENCRYPTION).plaintext
            payload = json.loads(plaintext or b"")
        except (JoseError, ValueError, TypeError, UnicodeError):
            return None
        return payload if isinstance(payload, dict) else None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sha384(value: str) -> bytes:
    return hashlib.sha384(value.encode("utf-8")).digest()


def cookie_path(idp: IdentityProvider) -> str:
    """Every cookie is scoped to the realm, under wherever the app is mounted (Keycloak: /realms/<name>/)."""
    return urlsplit(idp.issuer).path + "/"


def _set(
    response: Response,
    idp: IdentityProvider,
    name: str,
    value: str,
    *,
    httponly: bool = True,
    max_age: int | None = None,
) -> None:
    response.set_cookie(
        name, value, path=cookie_path(idp), max_age=max_age, secure=True, httponly=httponly, samesite="none"
    )


def _clear(response: Response, idp: IdentityProvider, name: str) -> None:
    # Keycloak 26.7 expires a cookie with a bare header (no HttpOnly, Secure or SameSite);
    # browsers match a cookie by name, domain and path, so it still goes.
    response.headers.append("set-cookie", f"{name}=; Max-Age=0; Expires={_EPOCH}; Path={cookie_path(idp)}")


# -- the SSO cookie ----------------------------------------------------------------------


def set_identity(response: Response, idp: IdentityProvider, session: UserSession) -> None:
    """KEYCLOAK_IDENTITY and KEYCLOAK_SESSION for a session that just started."""
    user = idp.find_user(session.username)
    now = idp.clock.now_int()
    claims = {
        "exp": int(session.started) + idp.realm.sso_session_max_lifespan,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "iss": idp.issuer,
        "sub": idp.realm.user_id(user) if user is not None else session.username,
        "typ": IDENTITY_TYPE,
        "sid": session.sid,
        "state_checker": secrets.token_urlsafe(32),
    }
    _set(response, idp, IDENTITY, idp.cookie_keys.sign_jwt(claims))
    _set(
        response,
        idp,
        SESSION,
        _b64url(_sha384(session.sid)),
        httponly=False,
        max_age=idp.realm.sso_session_max_lifespan,
    )


def identity_session(request: Request, idp: IdentityProvider) -> UserSession | None:
    """The live session a genuine KEYCLOAK_IDENTITY names, else ``None`` (absent, forged,
    tampered, expired, another realm's, or a session that ended)."""
    token = request.cookies.get(IDENTITY)
    claims = idp.cookie_keys.verify_jwt(token) if token else None
    if claims is None or claims.get("typ") != IDENTITY_TYPE or claims.get("iss") != idp.issuer:
        return None
    exp, sid = claims.get("exp"), claims.get("sid")
    if not isinstance(exp, int) or exp <= idp.clock.now() or not isinstance(sid, str):
        return None
    session = idp.live_session(sid)
    user = idp.find_user(session.username) if session is not None else None
    if session is None or user is None or idp.realm.user_id(user) != claims.get("sub"):
        return None
    return session


def has_identity(request: Request) -> bool:
    return IDENTITY in request.cookies


def clear_identity(response: Response, idp: IdentityProvider) -> None:
    _clear(response, idp, IDENTITY)
    _clear(response, idp, SESSION)


# -- the login session ---------------------------------------------------------------------


def auth_session_root(request: Request, idp: IdentityProvider) -> str | None:
    """The login-session id in a genuine AUTH_SESSION_ID, else ``None``."""
    value = request.cookies.get(AUTH_SESSION, "")
    if not value or len(value) > _MAX_COOKIE:
        return None
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (ValueError, UnicodeError):
        return None
    root, _, signature = decoded.rpartition(".")
    return root if root and hmac.compare_digest(signature, idp.cookie_keys.mac(root)) else None


def set_login_session(response: Response, idp: IdentityProvider, root: str, *, polled: bool = True) -> None:
    """AUTH_SESSION_ID for a login session that just started, and KC_AUTH_SESSION_HASH where a
    login page polls it (``polled``; Keycloak's logout sets none)."""
    _set(response, idp, AUTH_SESSION, _b64url(f"{root}.{idp.cookie_keys.mac(root)}".encode("ascii")))
    if polled:
        hashed = base64.b64encode(_sha384(root)).decode("ascii")
        _set(response, idp, AUTH_SESSION_HASH, hashed, httponly=False, max_age=60)


def set_restart(response: Response, idp: IdentityProvider, request_params: dict[str, str]) -> None:
    """KC_RESTART: the authorization request, for a login that may have to start again."""
    _set(response, idp, RESTART, idp.cookie_keys.encrypt({"iss": idp.issuer, "params": request_params}))


def restart_params(request: Request, idp: IdentityProvider) -> dict[str, str] | None:
    """The authorization request a genuine KC_RESTART carries, else ``None``."""
    token = request.cookies.get(RESTART)
    payload = idp.cookie_keys.decrypt(token) if token else None
    params = payload.get("params") if payload is not None and payload.get("iss") == idp.issuer else None
    if not isinstance(params, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
        return None
    return params


def clear_restart(response: Response, idp: IdentityProvider) -> None:
    _clear(response, idp, RESTART)
