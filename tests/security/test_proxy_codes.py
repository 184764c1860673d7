"""Authorization codes at the proxy: once, by the client they were issued to.

RFC 6749 §4.1.2 (a code MUST NOT be used more than once) and §4.1.3 (the code was issued
to the authenticated client), RFC 9700 §4.5 (code injection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pytest
from proxy_attacks import call_mcp, is_refused_grant, pkce_pair, register

from sandbox.replay_detection import GRACE_SECONDS
from sandbox.testing.server import IsolatedSettings, free_port, running_sandbox

FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def file_store_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A mock sandbox on the file store, as `make sandbox` runs: its reads really await, which
    is what lets concurrent redemptions interleave (the plugin's sandbox uses the memory store)."""
    port = free_port()
    settings = IsolatedSettings(
        backend="mock", port=port, state_dir=tmp_path_factory.mktemp("file-store"), store="file", log_level="warning"
    )
    with running_sandbox(settings) as running:
        yield SimpleNamespace(base_url=running.base_url, mcp_url=running.mcp_url, running=running)


async def test_a_code_is_redeemed_once(sandbox):
    """RFC 6749 §4.1.2: a replayed code gets invalid_grant."""
    client = await register(sandbox)
    verifier, challenge = pkce_pair()
    code = await client.code(challenge)
    assert (await client.redeem(code, verifier)).status_code == 200
    replay = await client.redeem(code, verifier)
    assert is_refused_grant(replay), replay.text


async def test_a_code_replayed_after_the_grace_revokes_the_tokens_it_gave(sandbox):
    """RFC 6749 §4.1.2: a code used more than once SHOULD revoke the tokens issued from it
    (FastMCP 4.2.3 only refused the replay; sandbox/replay_detection.py)."""
    client = await register(sandbox)
    verifier, challenge = pkce_pair()
    code = await client.code(challenge)
    issued = await client.redeem(code, verifier)
    assert issued.status_code == 200
    await asyncio.sleep(GRACE_SECONDS + 0.2)
    assert is_refused_grant(await client.redeem(code, verifier))
    assert (await call_mcp(sandbox, issued.json()["access_token"])).status_code == 401
    assert is_refused_grant(await client.refresh(issued.json()["refresh_token"]))


async def test_a_token_for_another_servers_resource_is_refused_at_redemption_and_refresh(sandbox):
    """RFC 8707 §2: /authorize refused resource=evil.example, /token issued a token for it (FastMCP 4.2.3)."""
    client = await register(sandbox)
    verifier, challenge = pkce_pair()
    code = await client.code(challenge)
    evil = "https://evil.example/mcp"
    refused = await client.redeem(code, verifier, resource=evil)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_target"), refused.text
    issued = await client.redeem(code, verifier)  # the refusal spent nothing
    assert issued.status_code == 200, issued.text
    refresh = await client.refresh(issued.json()["refresh_token"], resource=evil)
    assert (refresh.status_code, refresh.json()["error"]) == (400, "invalid_target"), refresh.text


@pytest.mark.mock_only
async def test_eight_concurrent_redemptions_give_one_token_set(file_store_sandbox):
    """RFC 6749 §4.1.2 under concurrency: FastMCP 4.2.3 gave 8 token sets (sandbox/proxy_workarounds.py)."""
    sandbox = file_store_sandbox
    client = await register(sandbox)
    verifier, challenge = pkce_pair()
    code = await client.code(challenge)
    responses = await asyncio.gather(*(client.redeem(code, verifier) for _ in range(8)))
    assert [r.status_code for r in responses].count(200) == 1, [r.text for r in responses]
    assert all(is_refused_grant(r) for r in responses if r.status_code != 200)
    issued = next(r.json() for r in responses if r.status_code == 200)
    assert (await call_mcp(sandbox, issued["access_token"])).status_code == 200


async def test_a_code_redeemed_by_another_client_is_refused(sandbox):
    """RFC 6749 §4.1.3 / RFC 9700 §4.5: the code is bound to its client; another client_id fails."""
    victim = await register(sandbox)
    attacker = await register(sandbox)
    verifier, challenge = pkce_pair()
    code = await victim.code(challenge)
    stolen = await attacker.redeem(code, verifier, redirect_uri=victim.redirect_uri)
    assert is_refused_grant(stolen), stolen.text
    assert (await victim.redeem(code, verifier)).status_code == 200


@pytest.mark.parametrize("shape", ["repeated-grant-type", "upper-case-type", "multipart"])
async def test_the_resource_check_reads_the_form_as_the_token_handler_does(sandbox, shape):
    """Each of these reached the SDK's handler unchecked and got a token, resource=evil.example notwithstanding."""
    client = await register(sandbox)
    refresh_token = (await client.tokens())["refresh_token"]
    fields = [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", client.client_id)]
    fields.append(("resource", "https://evil.example/mcp"))
    async with httpx.AsyncClient(timeout=60) as http:
        if shape == "multipart":
            answer = await http.post(f"{sandbox.base_url}/token", files={k: (None, v) for k, v in fields})
        else:
            if shape == "repeated-grant-type":
                fields.insert(0, ("grant_type", "x"))  # the handler reads the last one
            content_type = "Application/X-WWW-Form-Urlencoded" if shape == "upper-case-type" else FORM
            answer = await http.post(
                f"{sandbox.base_url}/token", content=urlencode(fields), headers={"Content-Type": content_type}
            )
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_target"), answer.text
