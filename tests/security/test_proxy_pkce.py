"""PKCE at the proxy: a code is worth nothing without the verifier of its S256 challenge.

RFC 9700 §2.1.1 and RFC 7636 §4.4.1 / §4.6: clients MUST use PKCE, and the authorization
server MUST refuse ``plain`` when S256 is possible (OAuth 2.1 §7.5.2); the MCP
authorization spec requires S256.
"""

from __future__ import annotations

from proxy_attacks import get, is_refused_grant, oauth_error, pkce_pair, register


async def test_authorize_without_a_code_challenge_is_refused(sandbox):
    """RFC 7636 §4.4.1 / MCP authorization: no code_challenge, no authorization."""
    client = await register(sandbox)
    response = await get(client.authorize_url(None, code_challenge_method=None))
    assert response.status_code in (302, 400)
    assert oauth_error(response) == "invalid_request"


async def test_authorize_with_plain_pkce_is_refused(sandbox):
    """RFC 9700 §2.1.1: ``plain`` leaks the verifier with the challenge; only S256 is accepted."""
    client = await register(sandbox)
    verifier, _ = pkce_pair()
    response = await get(client.authorize_url(verifier, code_challenge_method="plain"))
    assert response.status_code in (302, 400)
    assert oauth_error(response) == "invalid_request"


async def test_token_without_the_code_verifier_is_refused(sandbox):
    """RFC 7636 §4.5 / §4.6: a code issued with a challenge needs its verifier."""
    client = await register(sandbox)
    verifier, challenge = pkce_pair()
    code = await client.code(challenge)
    missing = await client.redeem(code, None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    # The refusal did not spend the code: the holder of the verifier still redeems it.
    assert (await client.redeem(code, verifier)).status_code == 200


async def test_token_with_a_wrong_code_verifier_is_refused(sandbox):
    """RFC 7636 §4.6: the verifier must hash to the challenge (an intercepted code alone fails)."""
    client = await register(sandbox)
    _, challenge = pkce_pair()
    wrong, _ = pkce_pair()
    response = await client.redeem(await client.code(challenge), wrong)
    assert is_refused_grant(response), response.text
