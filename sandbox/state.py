"""The sandbox's state directory: the proxy's keys and its client/token store.

Everything a connected MCP client relies on lives here, so a restart of the sandbox
keeps registrations and tokens valid. The mock IdP keeps its own key beside it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from key_value.aio.protocols import AsyncKeyValue
from key_value.aio.stores.filetree import (
    FileTreeStore,
    FileTreeV1CollectionSanitizationStrategy,
    FileTreeV1KeySanitizationStrategy,
)
from key_value.aio.stores.memory import MemoryStore
from key_value.aio.wrappers.encryption import FernetEncryptionWrapper
from key_value.aio.wrappers.routing import CollectionRoutingWrapper

from mock_idp.claims import InUseError, claim
from mock_idp.persist import write_atomic
from sandbox.redis_store import redis_store
from sandbox.store_cache import WriteThroughCache
from sandbox.store_paths import follow_moves

# FastMCP's file store writes each entry through tempfile.mkstemp (``tmpXXXXXXXX.tmp``) in
# the entry's directory, fsyncs it and renames it into place; a kill -9 in between leaves it.
STORE_TEMP_FILES = "tmp*.tmp"

# FastMCP's records of a sign-in under way, which live minutes at most: the authorization
# request between /authorize and the IdP's callback (its state and PKCE verifier), the consent
# form's CSRF token, and the proxy's code until the client redeems it. With the file store
# they stay in memory: a sandbox restarted or killed mid sign-in loses them, and that sign-in
# is started again (Keycloak, too, keeps its authentication sessions and codes in memory).
# Off disk they cost no file write, fsync and rename: three of the seven records a headless
# flow writes, a fifth of its server CPU. What a client holds once signed in (registration,
# tokens, upstream tokens, refresh tokens, revocations) is synced to disk before the answer.
SIGN_IN_COLLECTIONS = ("mcp-oauth-transactions", "mcp-consent-csrf-tokens", "mcp-authorization-codes")


SECRET_BYTES = 32


class StateSecretError(Exception):
    """The state secret file cannot be used; the message is one line for the CLI."""


class StateInUseError(Exception):
    """Another live sandbox holds the state directory; the message is one line for the CLI."""


class StateDir:
    def __init__(self, root: Path, *, secret_file: Path | None = None) -> None:
        self.root = root
        # Replicas share one (--state-secret-file); a lone sandbox keeps its own here.
        self.secret_file = secret_file or root / "proxy-secret.key"
        self._store_claim: Path | None = None

    @property
    def mock_idp(self) -> Path:
        return self.root / "mock-idp"

    @property
    def proxy_store(self) -> Path:
        return self.root / "proxy-store"

    def proxy_secret(self) -> bytes:
        """32 random bytes, made once: signs proxy-issued tokens and keys the store's encryption."""
        return _read_or_create_secret(self.secret_file)

    def consent_cookie_key(self) -> bytes:
        """Signs the proxy's consent cookies: derived from the proxy secret, never the upstream
        client secret, which the realm file publishes."""
        return hashlib.sha256(b"sandbox-consent-cookie:" + self.proxy_secret()).digest()

    def client_storage(self, kind: str) -> AsyncKeyValue:
        """``memory``, ``file`` (this directory) or a ``redis://`` URL; the last two encrypted."""
        if kind == "memory":
            # py-key-value's MemoryStore type-checks every read with beartype (its own
            # bear_enforce, which no switch turns off) and rebuilds the entry from JSON: a
            # tenth of an authenticated MCP call (issue 17). Reads come from the cache's dict.
            return WriteThroughCache(MemoryStore())
        encrypted = self.encrypted_storage(kind)
        if kind != "file":
            # No cache in front of Redis: other replicas write and delete there (a code
            # redeemed, a token revoked), and a replica's memory would not see it. Nor are
            # sign-ins kept in memory: the callback may reach another replica than /authorize.
            return encrypted
        sign_ins = MemoryStore()
        routed = CollectionRoutingWrapper(
            collection_map=dict.fromkeys(SIGN_IN_COLLECTIONS, sign_ins), default_store=encrypted
        )
        # Reads from memory, writes through to disk (sandbox/store_cache.py).
        return WriteThroughCache(routed)

    def encrypted_storage(self, kind: str) -> AsyncKeyValue:
        """The ``file`` or ``redis://`` store itself, every collection in it, encrypted."""
        store = self._file_store() if kind == "file" else redis_store(kind)
        encryption_key = base64.urlsafe_b64encode(
            hashlib.sha256(b"sandbox-proxy-store:" + self.proxy_secret()).digest()
        )
        # An entry that no longer decrypts (state copied between machines) reads as
        # missing, so the client just registers again instead of the server failing.
        return FernetEncryptionWrapper(key_value=store, fernet=Fernet(encryption_key), raise_on_decryption_error=False)

    def _file_store(self) -> FileTreeStore:
        directory = self.proxy_store
        directory.mkdir(parents=True, exist_ok=True)
        self._store_claim = self._store_claim or _claim_store(directory)
        follow_moves(directory)  # a copied or moved state directory (sandbox/store_paths.py)
        return FileTreeStore(
            data_directory=directory,
            key_sanitization_strategy=FileTreeV1KeySanitizationStrategy(directory),
            collection_sanitization_strategy=FileTreeV1CollectionSanitizationStrategy(directory),
        )


def _claim_store(directory: Path) -> Path:
    """Hold the store for as long as this process lives (mock_idp/claims.py: the kernel drops
    the lock when it dies, kill -9 included), removing the temp files a killed writer left.

    One sandbox at a time: each answers reads from its own memory cache
    (sandbox/store_cache.py), so a second one would serve what the first already deleted
    (a redeemed code, a revoked token). A second is refused in one line instead.
    """
    try:
        held, first = claim(directory / ".in-use")
    except InUseError:
        raise StateInUseError(
            f"the state directory {directory.parent} is in use by another running sandbox; "
            "stop it, or give this one its own --state-dir"
        ) from None
    if first:  # a claim of this same process may have writes in flight (a restart in a test)
        for stale in directory.rglob(STORE_TEMP_FILES):
            stale.unlink(missing_ok=True)
    return held


def _read_or_create_secret(path: Path) -> bytes:
    """The secret: made once (by whichever replica starts first, where replicas share one), never replaced.

    A file of the wrong size (a hex key, a trailing newline) is an error, not a reason to make
    a new one: every token, registration and revocation in the store is encrypted under the
    old one and would read as missing, and a replica with another secret would refuse every
    other's tokens.
    """
    if not path.exists():
        _create_exclusively(path, secrets.token_bytes(SECRET_BYTES))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateSecretError(f"state secret file {path} is not readable: {exc.strerror or exc}") from None
    if len(data) != SECRET_BYTES:
        raise StateSecretError(
            f"state secret file {path} holds {len(data)} bytes, not {SECRET_BYTES} "
            f"(make one with: head -c {SECRET_BYTES} /dev/urandom > {path}; chmod 600 {path})"
        )
    return data


def _create_exclusively(path: Path, data: bytes) -> None:
    """Write ``path`` 0600 unless it exists: two replicas starting together agree on the first one's."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_private_file(temporary, data)
        os.link(temporary, path)  # atomic, and refuses to replace what another replica wrote
    except FileExistsError:
        pass
    except OSError as exc:
        raise StateSecretError(f"cannot create state secret file {path}: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)


def write_private_file(path: Path, data: bytes) -> None:
    """Owner-only (0600), and whole or not at all: written beside it, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data, mode=0o600)  # the mock IdP's crash-safe write: synced, then renamed
