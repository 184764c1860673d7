"""Refresh tokens at the proxy: rotated, bound to their client, and safe to race.

RFC 9700 §4.14.2 (refresh token rotation: a used refresh token is invalid), RFC 6749 §6
(the refresh token is bound to the client it was issued to), and the realm's
``revokeRefreshToken`` (Keycloak ends the session on a reused refresh token, so concurrent
refreshes must make one upstream call).
"""

from __future__ import annotations

import asyncio

import pytest
from proxy_attacks import call_mcp, is_refused_grant, register

from sandbox.replay_detection import GRACE_SECONDS


async def test_a_used_refresh_token_is_refused(sandbox):
    """RFC 9700 §4.14.2: after rotation the old refresh token gets invalid_grant."""
    client = await register(sandbox)
    grant = await client.tokens()
    rotated = await client.refresh(grant["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] != grant["refresh_token"]
    assert is_refused_grant(await client.refresh(grant["refresh_token"]))


async def test_another_clients_refresh_token_is_refused(sandbox):
    """RFC 6749 §6 / §10.4: a refresh token works only for the client it was issued to."""
    victim = await register(sandbox)
    attacker = await register(sandbox)
    grant = await victim.tokens()
    assert is_refused_grant(await attacker.refresh(grant["refresh_token"]))
    assert (await victim.refresh(grant["refresh_token"])).status_code == 200  # unharmed by the attempt


async def refresh_eight_at_once(client, refresh_token: str):
    return await asyncio.gather(*(client.refresh(refresh_token) for _ in range(8)))


async def test_concurrent_refreshes_share_one_answer_and_keep_the_session(sandbox):
    """One refresh token, 8 refreshes at once: every answer that succeeds is the same token set,
    and the session survives (FastMCP 4.2.3 sent all 8 upstream; the realm revokes on reuse)."""
    client = await register(sandbox)
    grant = await client.tokens()
    responses = await refresh_eight_at_once(client, grant["refresh_token"])
    served = [r.json() for r in responses if r.status_code == 200]
    assert served and all(is_refused_grant(r) for r in responses if r.status_code != 200), [r.text for r in responses]
    assert len({(s["access_token"], s["refresh_token"]) for s in served}) == 1
    again = await client.refresh(served[0]["refresh_token"])
    assert again.status_code == 200, again.text
    assert (await call_mcp(sandbox, again.json()["access_token"])).status_code == 200


@pytest.mark.mock_only  # the mock's delay fault makes all 8 overlap for certain
async def test_eight_overlapping_refreshes_make_one_upstream_call(sandbox, idp):
    """All 8 overlap (the IdP answers after 1 s): all 8 get the same tokens from one upstream refresh."""
    client = await register(sandbox)
    grant = await client.tokens()
    with idp.fault("token", "delay", delay_seconds=1, times=None) as fault:
        responses = await refresh_eight_at_once(client, grant["refresh_token"])
        fired = next(f for f in idp.faults() if f["id"] == fault.id)
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert len({r.json()["access_token"] for r in responses}) == 1
    assert fired["fired"] == 1


@pytest.mark.mock_only  # the mock's faults stand in for the IdP failing
@pytest.mark.parametrize(
    ("kind", "spec", "status", "error", "said"),
    [
        ("status", {"status": 503}, 503, "temporarily_unavailable", "the IdP answered the refresh with HTTP 503"),
        ("oauth_error", {"error": "server_error"}, 503, "temporarily_unavailable", "with HTTP 500"),
        ("oauth_error", {"error": "invalid_client"}, 502, "server_error", "refresh (invalid_client"),
        ("malformed_body", {}, 502, "server_error", "not a usable token response"),
    ],
)
async def test_an_idp_failing_a_refresh_is_an_oauth_error_and_the_retry_works(
    sandbox, idp, kind, spec, status, error, said
):
    """FastMCP 4.2.3 answered these with a plain-text 500 (sandbox/refresh_errors.py), and the
    single-flight replayed that failure to every retry for 30 s although the refresh token
    was still good. Now: an RFC 6749 error body naming the IdP's failure, then a retry that
    goes upstream again and succeeds."""
    client = await register(sandbox)
    grant = await client.tokens()
    with idp.fault("token", kind, **spec):
        failed = await client.refresh(grant["refresh_token"])
    assert failed.status_code == status, failed.text
    body = failed.json()
    assert body["error"] == error and said in body["error_description"], body
    assert failed.headers.get("cache-control") == "no-store"
    assert ("retry-after" in failed.headers) == (status == 503)
    retry = await client.refresh(grant["refresh_token"])
    assert retry.status_code == 200, retry.text
    assert (await call_mcp(sandbox, retry.json()["access_token"])).status_code == 200


async def test_a_spent_refresh_token_presented_again_ends_the_grant(sandbox):
    """RFC 9700 §4.14.2: a rotated refresh token coming back means two parties hold it; the
    server cannot tell the thief from the client, so the grant ends. FastMCP 4.2.3 only
    refused the replay, and the thief's newer tokens kept working (sandbox/replay_detection.py)."""
    client = await register(sandbox)
    grant = await client.tokens()
    stolen = await client.refresh(grant["refresh_token"])  # the thief refreshes first
    assert stolen.status_code == 200, stolen.text
    thief = stolen.json()
    assert (await call_mcp(sandbox, thief["access_token"])).status_code == 200  # accepted, so remembered
    await asyncio.sleep(GRACE_SECONDS + 0.2)  # past the grace for a client's own racing retry
    assert is_refused_grant(await client.refresh(grant["refresh_token"]))  # the client's own, now spent
    assert (await call_mcp(sandbox, thief["access_token"])).status_code == 401
    assert is_refused_grant(await client.refresh(thief["refresh_token"]))
    assert (await call_mcp(sandbox, grant["access_token"])).status_code == 401  # the whole grant


async def test_a_refresh_tokens_replay_within_the_grace_is_only_refused(sandbox):
    """A client's own retry racing its first refresh (as concurrent refreshes do) keeps the grant."""
    client = await register(sandbox)
    grant = await client.tokens()
    rotated = await client.refresh(grant["refresh_token"])
    assert is_refused_grant(await client.refresh(grant["refresh_token"]))
    assert (await call_mcp(sandbox, rotated.json()["access_token"])).status_code == 200
