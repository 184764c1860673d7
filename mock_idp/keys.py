"""RS256 signing keys: persisted in the state directory, published as a JWKS.

Keycloak signs the tokens only the realm reads (refresh, offline and registration access
tokens) with its HS512 key, whose kid is in no JWKS; the mock's is the one its cookies are
signed with (:class:`mock_idp.cookies.CookieKeys`), as Keycloak's realm has one such key.
:meth:`KeyStore.verify` accepts both, picking the key by kid.

Keeping the keys across restarts is what lets tokens issued before a restart
still validate afterwards. Rotation makes a new active key; the old one can be
kept (published and still verifying) until a grace deadline on the IdP's clock.

Start-up signs nothing, so it does neither of the two costly things a key needs: a fresh
state directory's key is generated in a background thread (:func:`_generate`: RSA-2048
takes 30-100 ms, random in time, and OpenSSL runs it without the GIL), and joserfc (with
the parts of ``cryptography`` it loads, ~35 ms of imports) is imported where a key is
first used (JWKS, a token, a login), which waits for the generation. The key is on disk
before anything can use it, so no token outlives its key.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mock_idp.clock import Clock
from mock_idp.cookies import CookieKeys
from mock_idp.persist import move_aside, remove_stale_temp_files, write_atomic
from mock_idp.signing import ALGORITHM, compact, rsa_signature, signing_input

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from joserfc.jwk import RSAKey

log = logging.getLogger("mock_idp")

KEY_FILE = "rs256-private-key.pem"
RETIRED_FILE = "rs256-retired-keys.json"


@dataclass
class RetiredKey:
    key: RSAKey
    until: float  # epoch seconds on the IdP clock; dropped from the JWKS after this
    kid: str = field(init=False)  # a thumbprint is a hash: computed once, not per JWKS request

    def __post_init__(self) -> None:
        self.kid = self.key.thumbprint()


class KeyStore:
    """The realm's active signing key plus retired keys still in their grace period."""

    def __init__(
        self,
        key: RSAKey | Callable[[], RSAPrivateKey],
        secret: CookieKeys,
        clock: Clock | None = None,
        state_dir: Path | None = None,
        retired: list[RetiredKey] | None = None,
    ) -> None:
        """``key``: the active key, or where its ``cryptography`` key comes from at the key's first use."""
        self._source = key if callable(key) else None
        if not callable(key):
            self._activate(key)
        self.secret = secret
        self.clock = clock or Clock()
        self.state_dir = state_dir
        self.retired = retired or []

    def _activate(self, key: RSAKey) -> None:
        self._key, self._kid = key, key.thumbprint()

    def _settle(self) -> None:
        if self._source is not None:  # the first use (waits for a generation, raises its error)
            from joserfc.jwk import RSAKey

            self._activate(RSAKey.import_key(self._source()))
            self._source = None

    @property
    def key(self) -> RSAKey:
        self._settle()
        return self._key

    @property
    def kid(self) -> str:
        self._settle()
        return self._kid

    @classmethod
    def load_or_create(
        cls, state_dir: Path, clock: Clock | None = None, secret: CookieKeys | None = None, *, background: bool = True
    ) -> KeyStore:
        """The state directory's key; a missing one is generated now in the background
        (``background``), else at its first use (for a realm that seldom signs)."""
        path = state_dir / KEY_FILE
        retired = _load_retired(state_dir / RETIRED_FILE)
        secret = secret or CookieKeys.load_or_create(state_dir)
        if path.exists():
            try:
                stored = _checked_key(path.read_bytes())
                return cls(lambda: stored, secret, clock, state_dir, retired)
            except (OSError, ValueError, TypeError) as exc:
                moved = move_aside(path)
                log.warning(
                    "signing key %s is unreadable (%s); kept it as %s and generated a new key", path, exc, moved.name
                )
        source = _generate(path).result if background else lambda: _generate(path).result()
        return cls(source, secret, clock, state_dir, retired)

    # -- rotation -------------------------------------------------------------------

    def rotate(self, *, keep_old: bool = True, grace_seconds: float = 300) -> str:
        """Make a fresh active key; the old one verifies for ``grace_seconds`` more, or not at all."""
        from joserfc.jwk import RSAKey

        old = self.key
        self._activate(RSAKey.generate_key(2048, private=True))
        self.retired = self._live_retired()
        if keep_old and grace_seconds > 0:
            self.retired.append(RetiredKey(old, self.clock.now() + grace_seconds))
        if self.state_dir is not None:
            # Retired keys first: a crash in between leaves the old key findable.
            self._save_retired()
            write_atomic(self.state_dir / KEY_FILE, self.key.as_pem(private=True), mode=0o600)
        return self.kid

    def _live_retired(self) -> list[RetiredKey]:
        now = self.clock.now()
        return [entry for entry in self.retired if entry.until > now]

    def _save_retired(self) -> None:
        assert self.state_dir is not None
        data = [{"pem": entry.key.as_pem(private=True).decode("ascii"), "until": entry.until} for entry in self.retired]
        write_atomic(self.state_dir / RETIRED_FILE, json.dumps({"keys": data}).encode("utf-8"), mode=0o600)

    def verification_kids(self) -> tuple[str, ...]:
        """The kids :meth:`verification_keys` has, cheaply: the JWKS's version."""
        if not self.retired:  # the usual case: no clock read, no list
            return (self.kid,)
        return (self.kid, *(entry.kid for entry in self._live_retired()))

    def verification_keys(self) -> dict[str, RSAKey]:
        """kid -> key for every key whose signatures are currently accepted."""
        return {self.kid: self.key, **{entry.kid: entry.key for entry in self._live_retired()}}

    # -- signing and verification ------------------------------------------------------

    def signer(self) -> RSAPrivateKey:
        """The active key's private half (the active key is always a private one)."""
        signer = self.key.private_key
        assert signer is not None
        return signer

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        """``typ``: the JOSE header's media type (an ID-JAG is ``oauth-id-jag+jwt``). On the
        calling thread: an endpoint signs with :func:`mock_idp.signing.sign_off_loop`."""
        data = signing_input(self.kid, typ, claims)
        return compact(data, rsa_signature(self.signer(), data))

    def sign_secret(self, claims: dict[str, Any]) -> str:
        """HS512 under the realm's secret, as Keycloak signs refresh and registration tokens."""
        return self.secret.sign_jwt(claims)

    def verify(self, token: str) -> dict[str, Any] | None:
        """Claims of a token one of our live keys or our secret signed, or ``None`` for anything else.

        The kid picks the key and the key the algorithm, so a token cannot choose either.
        Expiry and token type are the caller's business (it owns the clock)."""
        if not isinstance(token, str) or token.count(".") != 2 or len(token) > 16384:
            return None
        from joserfc import jws, jwt
        from joserfc.errors import JoseError

        try:
            kid = jws.extract_compact(token.encode("ascii")).headers().get("kid")
            if kid == self.secret.signing_kid:
                return self.secret.verify_jwt(token)
            key = self.verification_keys().get(kid) if isinstance(kid, str) else None
            if key is None:
                return None
            decoded = jwt.decode(token, key, algorithms=[ALGORITHM])
        except (JoseError, ValueError, TypeError, UnicodeError):
            return None
        return decoded.claims if isinstance(decoded.claims, dict) else None

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**key.as_dict(private=False), "kid": kid, "use": "sig", "alg": ALGORITHM}
                for kid, key in self.verification_keys().items()
            ]
        }


_generating: dict[Path, Future[RSAPrivateKey]] = {}
_generating_lock = threading.Lock()
_one_at_a_time = threading.Lock()


def _checked_key(pem: bytes) -> RSAPrivateKey:
    """A stored key, read and checked by ``cryptography`` (ValueError, TypeError).

    The key object, not its PEM, goes on to joserfc: reading a PEM checks the key's
    consistency, ~40 ms of CPU for RSA 2048, which joserfc would have spent again at the
    first signature."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(pem, password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def _generate(path: Path) -> Future[RSAPrivateKey]:
    """A new key, generated in a thread and written to ``path`` before the future resolves (the
    key object itself: a PEM read back would be checked again, ~40 ms).

    Two IdPs of one process on one state directory share one generation, as they would have
    read one file. Not a daemon thread: the interpreter kills those at exit wherever they are,
    and one killed inside OpenSSL's generation aborts the process (``FATAL: exception not
    rethrown``); an exit during a generation waits for it instead (at most ~100 ms)."""
    path = path.resolve()  # one generation per file, however the directory was named
    with _generating_lock:
        pending = _generating.get(path)
        if pending is None:
            pending = Future()
            if path.exists():  # a generation of this process finished since the caller looked
                try:
                    pending.set_result(_checked_key(path.read_bytes()))
                except (OSError, ValueError, TypeError) as exc:  # handed to whoever uses the key first
                    pending.set_exception(exc)
            else:
                _generating[path] = pending
                threading.Thread(target=_generate_into, args=(path, pending), name="mock-idp-keygen").start()
        return pending


def _generate_into(path: Path, future: Future[RSAPrivateKey]) -> None:
    # cryptography directly: joserfc's generate_key calls the same, and would import joserfc here.
    # Its serialization package only after the generation: imports hold the GIL start-up needs.
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        with _one_at_a_time:  # one core generates, the other stays free for start-up
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        from cryptography.hazmat.primitives import serialization

        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )  # the PEM joserfc's as_pem writes
        write_atomic(path, pem, mode=0o600)
    except BaseException as exc:  # handed to whoever uses the key first
        future.set_exception(exc)
    else:
        future.set_result(key)
    finally:
        with _generating_lock:
            del _generating[path]


def _load_retired(path: Path) -> list[RetiredKey]:
    if not path.exists():
        return []
    from joserfc.errors import JoseError
    from joserfc.jwk import RSAKey

    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["keys"]
        return [RetiredKey(RSAKey.import_key(entry["pem"]), float(entry["until"])) for entry in entries]
    except (OSError, ValueError, KeyError, TypeError, JoseError) as exc:
        moved = move_aside(path)
        log.warning("retired keys file %s is unreadable (%s); kept it as %s", path, exc, moved.name)
        return []


def default_state_dir(realm_name: str) -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("mcp-oauth-sandbox")) / "mock-idp" / realm_name


def ensure_dir(path: Path) -> Path:
    """The state directory, made private, without the temp files a killed writer left."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    remove_stale_temp_files(path)
    return path
