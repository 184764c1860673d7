"""Signing and cookie keys kept in a shared store, so every replica on one Redis signs and
verifies alike: the first to start makes them, the others read them (``add`` decides)."""

from __future__ import annotations

import base64
import secrets

from mock_idp.backing import Backing
from mock_idp.clock import Clock
from mock_idp.cookies import CookieKeys
from mock_idp.keys import KeyStore


def shared_signing_keys(backing: Backing, clock: Clock, secret: CookieKeys) -> KeyStore:
    """The realm's signing key. (A rotation through x-mock changes one replica's key only.)"""
    from joserfc.jwk import RSAKey  # where it is used, as in mock_idp/keys.py

    stored = backing.get("keys", "signing")
    if stored is None:
        fresh = RSAKey.generate_key(2048, private=True)
        backing.add("keys", "signing", {"pem": fresh.as_pem(private=True).decode("ascii")})
        stored = backing.get("keys", "signing") or {}
    return KeyStore(RSAKey.import_key(str(stored["pem"])), secret, clock)


def shared_cookie_keys(backing: Backing) -> CookieKeys:
    stored = backing.get("keys", "cookies")
    if stored is None:
        fresh = {name: base64.b64encode(secrets.token_bytes(size)).decode("ascii") for name, size in _SIZES.items()}
        backing.add("keys", "cookies", fresh)
        stored = backing.get("keys", "cookies") or {}
    return CookieKeys(base64.b64decode(stored["hs512"]), base64.b64decode(stored["aes256"]))


_SIZES = {"hs512": 64, "aes256": 32}  # bytes, as CookieKeys makes them
