"""Bearer tokens at /mcp: only the proxy's own, untampered, unexpired token for this resource.

RFC 6750 §3.1 (invalid_token, 401), RFC 9068 §4 / RFC 8725 §3.1-3.2 (verify the algorithm
and key; never ``none``), RFC 8707 §2 and the MCP authorization spec (audience = this
server; no token passthrough), RFC 7519 §4.1.4 (``exp``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from proxy_attacks import call_mcp, claims, register

from sandbox.state import StateDir


@pytest.fixture
async def token(sandbox) -> str:
    return (await (await register(sandbox)).tokens())["access_token"]


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def resigned(sandbox, token: str, **changes) -> str:
    """The token with some claims changed, signed with the proxy's real key: only the claims can fail."""
    key = OctKey.import_key(StateDir(sandbox.running.settings.state_dir).proxy_secret())
    return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims(token) | changes, key)


async def refused(sandbox, forged: str) -> bool:
    response = await call_mcp(sandbox, forged)
    return response.status_code == 401 and "invalid_token" in response.headers.get("www-authenticate", "")


async def test_the_untouched_token_and_its_resigned_copy_work(sandbox, token):
    """The control: the proxy's token, and the same claims re-signed with its key, are served."""
    assert (await call_mcp(sandbox, token)).status_code == 200
    assert (await call_mcp(sandbox, resigned(sandbox, token))).status_code == 200


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "Bearer", "x" * 10000])
async def test_garbage_bearer_is_refused(sandbox, garbage):
    """RFC 6750 §3.1: a malformed token is invalid_token with 401, never a 500."""
    assert await refused(sandbox, garbage)


async def test_alg_none_is_refused(sandbox, token):
    """RFC 8725 §3.1 / RFC 9068 §4: an unsigned token (``alg: none``) is never accepted."""
    assert await refused(sandbox, f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(token))}.")


async def test_hs256_signed_with_the_idp_public_key_is_refused(sandbox, token):
    """RFC 8725 §3.1 (key confusion): the IdP's public RSA key used as an HMAC secret."""
    async with httpx.AsyncClient() as http:
        realm = sandbox.realm_url
        jwks = (await http.get(f"{realm}/protocol/openid-connect/certs")).json()
    public = RSAKey.import_key(next(k for k in jwks["keys"] if k.get("use", "sig") == "sig" and k["kty"] == "RSA"))
    pem = public.as_pem(private=False)
    upstream_claims = {
        "iss": realm,
        "aud": sandbox.mcp_url,
        "sub": "alice",
        "exp": int(time.time()) + 300,
        "iat": int(time.time()),
    }
    for body in (claims(token), upstream_claims):
        # Signed by hand: joserfc itself refuses a public key as an HMAC secret.
        signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(body)}"
        signature = (
            base64.urlsafe_b64encode(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
            .rstrip(b"=")
            .decode()
        )
        assert await refused(sandbox, f"{signing_input}.{signature}")


async def test_token_signed_by_a_foreign_key_is_refused(sandbox, token):
    """RFC 9068 §4: the signature must verify with the issuer's key; a stranger's RSA or HMAC key fails."""
    stranger = RSAKey.generate_key(2048, private=True)
    assert await refused(sandbox, jwt.encode({"alg": "RS256", "kid": "stranger"}, claims(token), stranger))
    assert await refused(sandbox, jwt.encode({"alg": "HS256"}, claims(token), OctKey.generate_key(256)))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", int(time.time()) - 60),
        ("aud", "http://localhost:9/other-mcp"),
        ("iss", "http://evil.example/"),
    ],
)
async def test_expired_wrong_audience_and_wrong_issuer_are_refused(sandbox, token, claim, value):
    """RFC 7519 §4.1.4 (exp), RFC 8707 §2 / MCP authorization (aud is this server), RFC 9068 §4 (iss)."""
    assert await refused(sandbox, resigned(sandbox, token, **{claim: value}))


async def test_upstream_idp_token_is_not_accepted_at_mcp(sandbox):
    """MCP authorization, token passthrough is forbidden: the IdP's own token is not the proxy's."""
    async with httpx.AsyncClient() as http:
        grant = await http.post(
            f"{sandbox.realm_url}/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "sandbox-cli",
                "username": "alice",
                "password": "alice",
                "scope": "openid",
            },
        )
    assert grant.status_code == 200, grant.text
    assert await refused(sandbox, grant.json()["access_token"])
