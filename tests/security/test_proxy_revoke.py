"""Revocation at the proxy (RFC 7009) for the public clients MCP registers.

RFC 7009 §2.1: public clients revoke with their client_id alone, and a client may revoke
only its own tokens; §2.2: a revoked token is invalid at once (the resource server must
stop accepting it, RFC 7009 §1 / RFC 9700 §4.14).
"""

from __future__ import annotations

import asyncio

from proxy_attacks import call_mcp, is_refused_grant, register

from sandbox.replay_detection import GRACE_SECONDS

# Enough calls for a token to be answered from memory: the first reads the store from disk.
USES = 3


async def test_a_public_client_can_revoke(sandbox):
    """RFC 7009 §2.1: no client_secret needed (FastMCP 4.2.3: 400 "client_secret: Field required")."""
    client = await register(sandbox)
    grant = await client.tokens()
    response = await client.revoke(grant["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200, response.text
    assert is_refused_grant(await client.refresh(grant["refresh_token"]))


async def test_a_revoked_access_token_is_refused_at_mcp_at_once(sandbox):
    """RFC 7009 §2.2: after revocation /mcp answers 401 (FastMCP 4.2.3 kept serving it)."""
    client = await register(sandbox)
    grant = await client.tokens()
    # Used a few times first, so the proxy answers it from memory (sandbox/accepted_tokens.py).
    for _ in range(USES):
        assert (await call_mcp(sandbox, grant["access_token"])).status_code == 200
    assert (await client.revoke(grant["access_token"], token_type_hint="access_token")).status_code == 200
    assert (await call_mcp(sandbox, grant["access_token"])).status_code == 401
    # Only that token: the grant's refresh token still gives a working one.
    fresh = await client.refresh(grant["refresh_token"])
    assert fresh.status_code == 200 and (await call_mcp(sandbox, fresh.json()["access_token"])).status_code == 200


async def test_revoking_the_refresh_token_ends_the_grants_access_tokens(sandbox):
    """RFC 7009 §2.1: revoking a refresh token SHOULD invalidate the access tokens of the same
    grant (Keycloak ends the session); FastMCP 4.2.3 kept serving them at /mcp."""
    client = await register(sandbox)
    grant = await client.tokens()
    # Used a few times first, so the proxy has verified its upstream token (sandbox/verified_tokens.py)
    # and answers the proxy's token from memory (sandbox/accepted_tokens.py).
    for _ in range(USES):
        assert (await call_mcp(sandbox, grant["access_token"])).status_code == 200
    assert (await client.revoke(grant["refresh_token"], token_type_hint="refresh_token")).status_code == 200
    assert (await call_mcp(sandbox, grant["access_token"])).status_code == 401


async def test_a_client_cannot_revoke_another_clients_token(sandbox):
    """RFC 7009 §2.1: the server checks the token was issued to the requesting client."""
    victim = await register(sandbox)
    attacker = await register(sandbox)
    grant = await victim.tokens()
    response = await attacker.revoke(grant["access_token"])
    assert response.status_code == 200  # RFC 7009 §2.2: no hint whether the token exists
    assert (await call_mcp(sandbox, grant["access_token"])).status_code == 200


async def test_revoking_a_refresh_token_already_rotated_ends_nothing(sandbox):
    """RFC 7009 §2.2: revoking a token that is already invalid is harmless, as at Keycloak. Replay
    detection (sandbox/replay_detection.py) counts only /token: it took this tidy-up for a theft
    and ended the client's grant behind a 200."""
    client = await register(sandbox)
    grant = await client.tokens()
    current = (await client.refresh(grant["refresh_token"])).json()
    await asyncio.sleep(GRACE_SECONDS + 0.2)
    assert (await client.revoke(grant["refresh_token"])).status_code == 200
    assert (await call_mcp(sandbox, current["access_token"])).status_code == 200
    assert (await client.refresh(current["refresh_token"])).status_code == 200
