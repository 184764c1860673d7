"""Upstream tokens remembered once verified (sandbox/verified_tokens.py), only while FastMCP would accept them."""

from __future__ import annotations

import inspect
import time
from typing import Any
from unittest.mock import patch

import httpx2
import pytest
from fastmcp.server.auth import AccessToken
from fastmcp.server.auth.jwt_issuer import JWTIssuer
from fastmcp.server.auth.oauth_proxy import OAuthProxy
from fastmcp.server.auth.providers.jwt import JWTVerifier
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from sandbox.copies import fresh
from sandbox.proxy import SandboxOIDCProxy
from sandbox.verified_tokens import VerifiedProxyTokens, VerifiedTokens

ISSUER = "http://idp.test/realms/sandbox"
AUDIENCE = "http://localhost:9/mcp"
PROXY = "http://localhost:9"
JWKS_URI = f"{ISSUER}/protocol/openid-connect/certs"


class PublishedKeys:
    """The IdP's JWKS endpoint, whose key set a test changes."""

    def __init__(self, *keys: RSAKey) -> None:
        self.keys = list(keys)
        self.fetches = 0

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.fetches += 1
        return httpx2.Response(200, json={"keys": [key.as_dict(private=False) for key in self.keys]})


class CountingVerifier(JWTVerifier):
    """FastMCP's verifier, counting the tokens it really checked."""

    checked = 0

    async def load_access_token(self, token: str) -> AccessToken | None:
        self.checked += 1
        return await super().load_access_token(token)


def key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


def token(signer: RSAKey, *, lifetime: float = 300, **extra: Any) -> str:
    claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": int(time.time() + lifetime)}
    claims |= extra
    return jwt.encode({"alg": "RS256", "kid": signer.kid}, claims, signer)


def verifier(published: PublishedKeys) -> CountingVerifier:
    # No refetch window, so a token with an unknown kid makes it fetch the key set at once.
    return CountingVerifier(
        jwks_uri=JWKS_URI,
        issuer=ISSUER,
        audience=AUDIENCE,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(published.handle)),
        jwks_refresh_interval=0,
    )


async def test_a_token_verified_once_is_answered_without_checking_it_again():
    first = key("k1")
    inner = verifier(PublishedKeys(first))
    tokens = VerifiedTokens(inner)
    alice = token(first)
    answers = [await tokens.verify_token(alice) for _ in range(3)]
    assert all(answer is not None and answer.subject == "alice" for answer in answers)
    assert inner.checked == 1


async def test_an_edited_answer_changes_no_later_answer():
    """A tool or middleware that edits the token it was handed grants the next call nothing."""
    first = key("k1")
    tokens = VerifiedTokens(verifier(PublishedKeys(first)))
    alice = token(first)
    answer = await tokens.verify_token(alice)
    assert answer is not None
    answer.scopes.append("mcp:admin")
    answer.claims["realm_access"] = {"roles": ["mcp-admin"]}
    again = await tokens.verify_token(alice)
    assert again is not None
    assert "mcp:admin" not in again.scopes and "realm_access" not in again.claims


async def test_nested_claims_edited_in_any_answer_change_no_later_answer():
    """The copies rebuild nested containers too: the first answer (the one remembered) and a cached one."""
    first = key("k1")
    tokens = VerifiedTokens(verifier(PublishedKeys(first)))
    alice = token(first, realm_access={"roles": ["mcp-user"]}, groups=[["staff"]])
    for _ in range(2):
        answer = await tokens.verify_token(alice)
        assert answer is not None
        answer.claims["realm_access"]["roles"].append("mcp-admin")
        answer.claims["groups"][0].append("admins")
    again = await tokens.verify_token(alice)
    assert again is not None
    assert again.claims["realm_access"] == {"roles": ["mcp-user"]} and again.claims["groups"] == [["staff"]]


def test_values_that_are_not_json_are_still_copied_whole():
    shared = {"tags": {"a"}, "pair": ({"k": "v"},)}
    copied = fresh(shared)
    copied["tags"].add("b")
    copied["pair"][0]["k"] = "edited"
    assert shared == {"tags": {"a"}, "pair": ({"k": "v"},)}


async def test_a_refused_token_is_checked_again_every_time():
    first = key("k1")
    inner = verifier(PublishedKeys(first))
    tokens = VerifiedTokens(inner)
    forged = token(key("k1"))  # same kid, another key
    assert [await tokens.verify_token(forged) for _ in range(2)] == [None, None]
    assert inner.checked == 2


async def test_a_key_dropped_from_the_jwks_ends_what_it_verified():
    """A key removed without grace: once FastMCP refetches the key set, its tokens are refused."""
    old, new = key("old"), key("new")
    published = PublishedKeys(old)
    tokens = VerifiedTokens(verifier(published))
    before = token(old)
    assert await tokens.verify_token(before) is not None
    published.keys = [new]
    assert await tokens.verify_token(token(new)) is not None  # an unknown kid: FastMCP refetches
    assert published.fetches == 2
    assert await tokens.verify_token(before) is None


async def test_a_key_replaced_under_the_same_kid_ends_what_the_old_one_verified():
    old, replacement, other = key("k1"), key("k1"), key("k2")
    published = PublishedKeys(old)
    tokens = VerifiedTokens(verifier(published))
    before = token(old)
    assert await tokens.verify_token(before) is not None
    published.keys = [replacement, other]
    assert await tokens.verify_token(token(other)) is not None  # the refetch
    assert await tokens.verify_token(before) is None
    assert await tokens.verify_token(token(replacement)) is not None


async def test_a_remembered_token_expires_when_the_token_does():
    first = key("k1")
    inner = verifier(PublishedKeys(first))
    now = [time.time()]
    tokens = VerifiedTokens(inner, clock=lambda: now[0])
    alice = token(first, lifetime=60)
    assert await tokens.verify_token(alice) is not None
    now[0] += 59
    assert await tokens.verify_token(alice) is not None
    now[0] += 2
    assert await tokens.verify_token(alice) is None
    assert inner.checked == 1


async def test_the_oldest_token_goes_first_past_the_capacity():
    first = key("k1")
    inner = verifier(PublishedKeys(first))
    tokens = VerifiedTokens(inner, capacity=2)
    oldest, middle, newest = token(first, lifetime=100), token(first, lifetime=200), token(first, lifetime=300)
    for each in (oldest, middle, newest, newest, middle):
        assert await tokens.verify_token(each) is not None
    assert inner.checked == 3
    assert await tokens.verify_token(oldest) is not None
    assert inner.checked == 4


def test_fastmcp_still_builds_the_proxy_s_verifier_and_issuer_where_the_sandbox_hooks_them():
    """The sandbox's proxy gets these by overriding OIDCProxy.get_token_verifier and set_mcp_path
    (sandbox/proxy.py), and FastMCP's load_access_token must still ask the verifier after its
    store lookups."""
    discovery = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/protocol/openid-connect/auth",
        "token_endpoint": f"{ISSUER}/protocol/openid-connect/token",
        "jwks_uri": JWKS_URI,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    proxy = SandboxOIDCProxy(
        discovery=discovery,
        config_url=f"{ISSUER}/.well-known/openid-configuration",
        client_id="sandbox-proxy",
        client_secret="secret",
        audience=AUDIENCE,
        base_url=PROXY,
        jwt_signing_key=b"k" * 32,
        consent_key=b"c" * 32,
        client_storage=None,
    )
    assert isinstance(proxy._token_validator, VerifiedTokens)
    proxy.get_routes("/mcp")
    assert isinstance(proxy.jwt_issuer, VerifiedProxyTokens)
    source = inspect.getsource(OAuthProxy.load_access_token)
    assert source.index("_upstream_token_store.get") < source.index("self._token_validator.verify_token")


def issuer(**kwargs: Any) -> VerifiedProxyTokens:
    return VerifiedProxyTokens(JWTIssuer(issuer=PROXY, audience=AUDIENCE, signing_key=b"k" * 32), **kwargs)


async def test_the_proxy_s_access_token_is_checked_once_while_it_lives():
    proxy_tokens = issuer()
    access = proxy_tokens.issue_access_token(client_id="c", scopes=["openid"], jti="j1", expires_in=300)
    with patch.object(JWTIssuer, "verify_token", autospec=True, side_effect=JWTIssuer.verify_token) as checks:
        payloads = [proxy_tokens.verify_token(access) for _ in range(3)]
    assert [payload["jti"] for payload in payloads] == ["j1"] * 3
    assert checks.call_count == 1


async def test_an_edited_proxy_token_payload_changes_no_later_one():
    proxy_tokens = issuer()
    access = proxy_tokens.issue_access_token(
        client_id="c", scopes=["openid"], jti="j1", expires_in=300, upstream_claims={"email": "alice@example.com"}
    )
    first = proxy_tokens.verify_token(access)
    first["upstream_claims"]["email"] = "mallory@example.com"
    first["scope"] = "openid mcp:admin"
    again = proxy_tokens.verify_token(access)
    assert again["upstream_claims"]["email"] == "alice@example.com"
    assert again["scope"] == "openid"


async def test_the_proxy_s_access_token_is_refused_once_expired():
    now = [time.time()]
    proxy_tokens = issuer(clock=lambda: now[0])
    access = proxy_tokens.issue_access_token(client_id="c", scopes=["openid"], jti="j1", expires_in=60)
    assert proxy_tokens.verify_token(access)["jti"] == "j1"
    now[0] += 120
    with patch("fastmcp.server.auth.jwt_issuer.time.time", return_value=now[0]), pytest.raises(JoseError):
        proxy_tokens.verify_token(access)


def test_refresh_tokens_and_forgeries_are_checked_every_time():
    proxy_tokens = issuer()
    refresh = proxy_tokens.issue_refresh_token(client_id="c", scopes=["openid"], jti="r1", expires_in=300)
    stranger = JWTIssuer(issuer=PROXY, audience=AUDIENCE, signing_key=b"x" * 32)
    forged = stranger.issue_access_token(client_id="c", scopes=["openid"], jti="j2", expires_in=300)
    with patch.object(JWTIssuer, "verify_token", autospec=True, side_effect=JWTIssuer.verify_token) as checks:
        for _ in range(2):
            assert proxy_tokens.verify_token(refresh, expected_token_use="refresh")["jti"] == "r1"
            with pytest.raises(JoseError):
                proxy_tokens.verify_token(forged)
    assert checks.call_count == 4


async def test_the_proxy_token_s_id_is_its_jti_and_exp_with_the_same_rules():
    now = [time.time()]
    proxy_tokens = issuer(clock=lambda: now[0])
    access = proxy_tokens.issue_access_token(client_id="c", scopes=["openid"], jti="j1", expires_in=60)
    expires = proxy_tokens.verify_token(access)["exp"]
    with patch.object(JWTIssuer, "verify_token", autospec=True, side_effect=JWTIssuer.verify_token) as checks:
        assert [proxy_tokens.token_id(access) for _ in range(2)] == [("j1", expires)] * 2
    assert checks.call_count == 0  # remembered from the check above
    stranger = JWTIssuer(issuer=PROXY, audience=AUDIENCE, signing_key=b"x" * 32)
    with pytest.raises(JoseError):
        proxy_tokens.token_id(stranger.issue_access_token(client_id="c", scopes=["openid"], jti="j2", expires_in=60))
    now[0] += 120
    with patch("fastmcp.server.auth.jwt_issuer.time.time", return_value=now[0]), pytest.raises(JoseError):
        proxy_tokens.token_id(access)
