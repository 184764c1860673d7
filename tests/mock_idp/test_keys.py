"""The signing key store: its own RS256 writer against joserfc's, and the JWKS's version."""

from __future__ import annotations

import pytest
from joserfc import jwt

from mock_idp.clock import Clock
from mock_idp.keys import ALGORITHM, KeyStore


@pytest.fixture
def keys(tmp_path) -> KeyStore:
    return KeyStore.load_or_create(tmp_path, Clock())


@pytest.mark.parametrize("typ", ["JWT", "oauth-id-jag+jwt"])
def test_sign_writes_the_bytes_joserfc_writes(keys, typ):
    # RS256 (PKCS#1 v1.5) is deterministic, so the shortcut must match joserfc to the byte.
    claims = {"exp": 2, "iat": 1, "jti": "é-1", "aud": ["a", "b"], "realm_access": {"roles": ["x"]}}
    expected = jwt.encode({"alg": ALGORITHM, "typ": typ, "kid": keys.kid}, dict(claims), keys.key, algorithms=["RS256"])
    token = keys.sign(dict(claims), typ)
    assert token == expected
    decoded = jwt.decode(token, keys.key, algorithms=["RS256"])
    assert decoded.claims == claims and decoded.header == {"typ": typ, "alg": "RS256", "kid": keys.kid}


def test_sign_follows_rotation(keys):
    old = keys.kid
    new = keys.rotate(grace_seconds=0)
    token = keys.sign({"sub": "s"})
    assert new != old and jwt.decode(token, keys.key, algorithms=["RS256"]).header["kid"] == new
    assert keys.verify(token) == {"sub": "s"}


def test_verification_kids_track_rotation_and_the_grace_period(keys):
    first = keys.kid
    assert keys.verification_kids() == (first,)
    second = keys.rotate(grace_seconds=60)
    assert keys.verification_kids() == (second, first) == tuple(keys.verification_keys())
    keys.clock.advance(61)
    assert keys.verification_kids() == (second,) == tuple(keys.verification_keys())
