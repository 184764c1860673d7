"""RS256 signatures as compact JWS, with the RSA operation off the event loop.

A 2048-bit RS256 signature is ~215 us of CPU, about 60% of a token request's, and
``cryptography`` runs it without the GIL. On the event loop it serialises every token request
behind one core; in :func:`sign_off_loop` the loop goes on reading, routing and answering
other requests while a pool thread signs, so concurrent token requests use both cores. Only
the RSA operation leaves the loop: the claims, the key and every store change stay on it, in
request order.

The pool is made at the first signature (start-up signs nothing, so it costs start-up nothing).
Its threads are joined at interpreter exit (an idle one at once, a signing one within ~0.2 ms)
rather than killed mid-OpenSSL as a daemon thread would be, and a forked child, which inherits
none of them, makes its own.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from mock_idp.keys import KeyStore

ALGORITHM = "RS256"
# One: the event loop needs a core of its own, and on two cores a second signer only competes
# with it for the CPU and the GIL (client_credentials at 8 connections, 3 rounds of wrk with the
# server above other load: 4,430 req/s with one signer, 3,920 with two, 3,730 with three).
SIGNING_THREADS = 1

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def signing_input(kid: str, typ: str, claims: dict[str, Any]) -> bytes:
    """``header.payload``: the bytes joserfc's ``jwt.encode`` signs, without its per-call work
    (header encoding, key lookup, registry checks: a tenth of a token request's CPU besides RSA)."""
    from joserfc.util import urlsafe_b64encode

    payload = json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _header_segment(kid, typ) + b"." + urlsafe_b64encode(payload)


def rsa_signature(key: RSAPrivateKey, data: bytes) -> bytes:
    # Here, not at the top: start-up signs nothing (these cost ~10 ms of imports).
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def compact(data: bytes, signature: bytes) -> str:
    from joserfc.util import urlsafe_b64encode

    return (data + b"." + urlsafe_b64encode(signature)).decode("ascii")


async def sign_off_loop(keys: KeyStore, claims: dict[str, Any], typ: str = "JWT") -> str:
    """What :meth:`KeyStore.sign` returns, the RSA operation in a pool thread.

    The key is read before the hop, so a rotation meanwhile cannot pair one key's kid with
    another's signature; one that drops that key (``keep_old=False``) is caught after it."""
    key = active_key(keys)
    token = await sign_with(key, claims, typ)
    if not still_published(keys, key):
        # Rotated away during the hop: sign on the loop, where no rotation can come between.
        return keys.sign(claims, typ)
    return token


@dataclass(frozen=True)
class SigningKey:
    """The active key as one read: its kid and private half, for every token of a response."""

    kid: str
    private: RSAPrivateKey


def active_key(keys: KeyStore) -> SigningKey:
    return SigningKey(keys.kid, keys.signer())


def still_published(keys: KeyStore, key: SigningKey) -> bool:
    """Whether the JWKS still has ``key``: a token it signed verifies."""
    return key.kid in keys.verification_kids()


async def sign_with(key: SigningKey, claims: dict[str, Any], typ: str = "JWT") -> str:
    """A compact JWS under ``key``, the RSA operation in a pool thread; the caller checks
    :func:`still_published` after its last one (a rotation may have dropped the key meanwhile)."""
    data = signing_input(key.kid, typ, claims)
    signature = await asyncio.get_running_loop().run_in_executor(_signing_pool(), rsa_signature, key.private, data)
    return compact(data, signature)


def _signing_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor  # here: start-up signs nothing (and queue with it)

        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(SIGNING_THREADS, thread_name_prefix="mock-idp-sign")
    return _pool


def _forget_pool() -> None:
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()  # the parent's threads (and lock holder) are not ours


os.register_at_fork(after_in_child=_forget_pool)


@functools.lru_cache(maxsize=64)
def _header_segment(kid: str, typ: str) -> bytes:
    # As jwt.encode orders it: its default typ first, then ours over it.
    from joserfc.util import json_b64encode

    return json_b64encode({"typ": "JWT", **{"alg": ALGORITHM, "typ": typ, "kid": kid}})
