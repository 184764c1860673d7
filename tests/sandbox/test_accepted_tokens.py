"""The proxy's access tokens answered from memory (sandbox/accepted_tokens.py), only while the full check would agree."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastmcp.server.auth import AccessToken
from fastmcp.server.auth.oauth_proxy import OAuthProxy
from fastmcp.server.auth.oauth_proxy.proxy import _ID_JAG_GRANT_MARKER
from fastmcp.server.auth.providers.jwt import JWTVerifier
from joserfc import jwt
from joserfc.jwk import RSAKey

from sandbox.accepted_tokens import AcceptedTokens
from sandbox.proxy_workarounds import ProxyWorkarounds
from sandbox.state import StateDir
from sandbox.token_watch import Watch, answered_afresh, answered_from_memory, watching
from sandbox.verified_tokens import VerifiedTokens
from tests.security.offline_proxy import offline_proxy
from tests.security.test_proxy_upstream_defects import (
    PUBLISHED_SECRET,
    FakeUpstream,
    UpstreamStub,
    issued_code,
    registered,
)

ISSUER = "http://idp.test/realms/sandbox"


def answer(**claims: Any) -> AccessToken:
    return AccessToken(token="t", client_id="c", scopes=["openid"], expires_at=int(time.time()) + 300, claims=claims)


def watched(*checks: bool, upstream: bool = True, afresh: bool = False) -> Watch:
    """A watch that saw one answer from memory per ``checks`` value (each a flag a test flips)."""
    with watching() as watch:
        for index in range(len(checks)):
            answered_from_memory(lambda index=index: flags[index], upstream_verification=upstream and index == 0)
        if afresh:
            answered_afresh()
    return watch


flags: list[bool] = []


@pytest.fixture(autouse=True)
def _flags() -> None:
    flags[:] = [True, True]


def test_an_answer_is_given_again_while_what_it_stood_on_holds() -> None:
    accepted = AcceptedTokens()
    accepted.remember("tok", answer(sub="alice"), watched(True, True), until=time.time() + 60)
    again = accepted.get("tok")
    assert again is not None and again.claims == {"sub": "alice"}
    flags[1] = False  # say, the revocation lookup's cache entry was replaced
    assert accepted.get("tok") is None
    flags[1] = True
    assert accepted.get("tok") is None, "forgotten once a check failed: the next call checks in full"


def test_an_answer_is_not_given_past_its_time() -> None:
    now = [1000.0]
    accepted = AcceptedTokens(clock=lambda: now[0])
    accepted.remember("tok", answer(), watched(True), until=1010.0)
    assert accepted.get("tok") is not None
    now[0] = 1010.5
    assert accepted.get("tok") is None


@pytest.mark.parametrize(
    "watch",
    [
        pytest.param(lambda: watched(True, afresh=True), id="a-read-went-past-memory"),
        pytest.param(lambda: watched(True, True, upstream=False), id="no-upstream-verification"),
        pytest.param(lambda: Watch(), id="nothing-watched"),
    ],
)
def test_an_answer_not_wholly_from_memory_is_not_remembered(watch: Any) -> None:
    accepted = AcceptedTokens()
    accepted.remember("tok", answer(), watch(), until=time.time() + 60)
    assert accepted.get("tok") is None and len(accepted) == 0


def test_an_edited_answer_changes_no_later_answer() -> None:
    accepted = AcceptedTokens()
    accepted.remember("tok", answer(realm_access={"roles": ["user"]}), watched(True), until=time.time() + 60)
    first = accepted.get("tok")
    assert first is not None and first.claims is not None
    first.claims["realm_access"]["roles"].append("admin")
    first.scopes.append("mcp:admin")
    second = accepted.get("tok")
    assert second is not None and second.claims == {"realm_access": {"roles": ["user"]}}
    assert second.scopes == ["openid"]


def test_telling_outside_a_watch_changes_nothing() -> None:
    answered_from_memory(lambda: False)
    answered_afresh()
    with watching() as watch:
        pass
    assert watch.checks == [] and watch.from_memory


# -- through the sandbox's proxy, offline: FastMCP's check, the store's cache, the upstream verifier --


class CountedChecks(OAuthProxy):
    """FastMCP's check of the proxy's access tokens, counting how often it really runs."""

    checks = 0

    async def load_access_token(self, token: str) -> AccessToken | None:  # type: ignore[override]
        self.checks += 1
        return await super().load_access_token(token)


class Proxy(ProxyWorkarounds, UpstreamStub, CountedChecks):
    """The sandbox's workarounds over FastMCP's proxy, its upstream tokens RS256 JWTs."""


SIGNER = RSAKey.generate_key(2048, parameters={"kid": "k1"})


def upstream_jwt(lifetime: int = 300) -> str:
    claims = {"iss": ISSUER, "sub": "alice", "exp": int(time.time()) + lifetime, "scope": "openid"}
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, SIGNER)


def make(state: Path, *, storage: Any = None, **options: Any) -> Any:
    pem = SIGNER.as_pem(private=False).decode()
    verifier = VerifiedTokens(JWTVerifier(public_key=pem, issuer=ISSUER, base_url="http://localhost:8000"))
    proxy = offline_proxy(
        Proxy,
        storage if storage is not None else StateDir(state).client_storage("file"),
        upstream_client_secret=PUBLISHED_SECRET,
        consent_key=StateDir(state).consent_cookie_key(),
        **options,
    )
    proxy._token_validator = verifier  # as SandboxOIDCProxy.get_token_verifier hands FastMCP (sandbox/proxy.py)
    proxy.upstream = FakeUpstream()
    proxy.set_mcp_path("/mcp")
    return proxy


async def grant(proxy: Any, *, lifetime: int = 300) -> Any:
    client = await registered(proxy)
    upstream = {"access_token": upstream_jwt(lifetime), "refresh_token": "upstream-rt", "expires_in": lifetime}
    code = await issued_code(proxy, client, upstream | {"scope": "openid"})
    loaded = await proxy.load_authorization_code(client, code)
    return client, await proxy.exchange_authorization_code(client, loaded)


async def used(proxy: Any, token: str, times: int = 3) -> list[AccessToken | None]:
    return [await proxy.load_access_token(token) for _ in range(times)]


async def test_a_token_in_use_is_answered_from_memory(tmp_path: Path) -> None:
    proxy = make(tmp_path)
    _, tokens = await grant(proxy)
    answers = await used(proxy, tokens.access_token, times=5)
    assert all(a is not None and a.claims and a.claims["sub"] == "alice" for a in answers)
    # The first check reads the store's records from disk; the second finds them all in memory.
    assert proxy.checks == 2, "FastMCP's check ran for every call: nothing was remembered"


async def test_a_revoked_token_is_refused_at_once_though_remembered(tmp_path: Path) -> None:
    proxy = make(tmp_path)
    _, tokens = await grant(proxy)
    token = (await used(proxy, tokens.access_token))[-1]
    assert token is not None
    await proxy.revoke_token(token)
    assert await proxy.load_access_token(tokens.access_token) is None


async def test_an_ended_grant_is_refused_at_once_though_remembered(tmp_path: Path) -> None:
    proxy = make(tmp_path)
    client, tokens = await grant(proxy)
    assert (await used(proxy, tokens.access_token))[-1] is not None
    await proxy.revoke_token(await proxy.load_refresh_token(client, tokens.refresh_token))
    assert await proxy.load_access_token(tokens.access_token) is None


async def test_an_answer_ends_where_fastmcp_would_begin_to_refresh(tmp_path: Path) -> None:
    """Within its refresh threshold FastMCP's check refreshes the upstream token (proxy.py:2318):
    the remembered answer must not outlive the moment that would begin."""
    proxy = make(tmp_path, token_expiry_threshold_seconds=60)
    _, tokens = await grant(proxy, lifetime=300)
    await used(proxy, tokens.access_token)
    remembered = proxy._accepted._accepted[tokens.access_token]
    assert remembered.until <= time.time() + 300 - 60


async def test_a_grant_due_for_refresh_is_always_checked_in_full(tmp_path: Path) -> None:
    proxy = make(tmp_path, token_expiry_threshold_seconds=60)
    _, tokens = await grant(proxy, lifetime=30)
    await used(proxy, tokens.access_token, times=4)
    assert proxy.checks == 4


async def test_a_key_the_upstream_verifier_no_longer_holds_ends_the_answer(tmp_path: Path) -> None:
    proxy = make(tmp_path)
    _, tokens = await grant(proxy)
    assert (await used(proxy, tokens.access_token))[-1] is not None
    checks = proxy.checks
    proxy._token_validator.verifier.public_key = RSAKey.generate_key(2048).as_pem(private=False).decode()
    assert await proxy.load_access_token(tokens.access_token) is None
    assert proxy.checks == checks + 1


async def test_nothing_is_remembered_over_a_store_without_the_cache(tmp_path: Path) -> None:
    """Redis has no cache: other replicas write there unseen (sandbox/state.py)."""
    proxy = make(tmp_path, storage=StateDir(tmp_path).encrypted_storage("file"))
    _, tokens = await grant(proxy)
    await used(proxy, tokens.access_token, times=3)
    assert proxy._accepted is None and proxy.checks == 3


async def test_a_rewritten_upstream_token_set_is_seen_at_the_next_call(tmp_path: Path) -> None:
    """A refresh rewrites the grant's upstream token set (and its claims): never answered from before."""
    proxy = make(tmp_path)
    _, tokens = await grant(proxy)
    await used(proxy, tokens.access_token)
    assert len(proxy._accepted) == 1
    mapping = await proxy._jti_mapping_store.get(key=proxy.jwt_issuer.verify_token(tokens.access_token)["jti"])
    upstream = await proxy._upstream_token_store.get(key=mapping.upstream_token_id)
    upstream.upstream_claims = {"role": "changed"}
    await proxy._upstream_token_store.put(key=mapping.upstream_token_id, value=upstream, ttl=600)
    answer = await proxy.load_access_token(tokens.access_token)
    assert answer is not None and answer.claims is not None
    assert answer.claims["upstream_claims"] == {"role": "changed"}


async def test_an_id_jag_token_is_never_remembered(tmp_path: Path) -> None:
    """SEP-990 tokens carry no jti mapping; their check reads FastMCP's revoked-jti set, which no watch sees."""
    proxy = make(tmp_path)
    proxy._identity_assertion = object()  # what FastMCP checks is configured before it accepts one
    token = proxy.jwt_issuer.issue_access_token(
        client_id="c",
        scopes=["openid"],
        jti="jag-1",
        expires_in=300,
        subject="alice",
        extra_claims={"fastmcp_grant": _ID_JAG_GRANT_MARKER},
    )
    assert all(answer is not None for answer in await used(proxy, token, times=4))
    assert len(proxy._accepted) == 0
    proxy._revoked_id_jag_jtis["jag-1"] = time.time() + 300
    assert await proxy.load_access_token(token) is None
