"""sandbox/testing/token_in_hand.py on a scripted wire: which answers reach the MCP SDK's flow."""

from __future__ import annotations

import time

import httpx2
import pytest
from key_value.aio.stores.memory import MemoryStore
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth

MCP_URL = "http://localhost:9/mcp"


def signed_in() -> HeadlessOAuth:
    """A client holding a valid token, as after a sign-in (the flow set up, no flow running)."""
    auth = HeadlessOAuth(HeadlessBrowser("alice", "alice"), mcp_url=MCP_URL, token_storage=MemoryStore())
    token = OAuthToken(access_token="first", token_type="Bearer", expires_in=300, refresh_token="refresh")
    auth.context.current_tokens = token
    # Registered, so the flow could refresh: a run of it handed a plain 403 would.
    auth.context.client_info = OAuthClientInformationFull(client_id="c", redirect_uris=["http://127.0.0.1:1/callback"])
    auth.context.update_token_expiry(token)
    auth._initialized = True
    return auth


async def send(auth: HeadlessOAuth, answer, sent: list[httpx2.Request]) -> httpx2.Response:
    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return answer(request)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler), auth=auth) as http:
        return await http.post(MCP_URL, json={"jsonrpc": "2.0", "id": 1, "method": "tools/call"})


async def test_an_answer_the_flow_does_not_act_on_is_returned_as_it_is():
    auth = signed_in()
    sent: list[httpx2.Request] = []

    def forbidden(request: httpx2.Request) -> httpx2.Response:
        auth.context.token_expiry_time = time.time() - 1  # the token expired while in flight
        return httpx2.Response(403, headers={"www-authenticate": 'Bearer error="forbidden"'})

    answer = await send(auth, forbidden, sent)
    assert answer.status_code == 403
    assert [(r.url.path, r.headers["authorization"]) for r in sent] == [
        ("/mcp", "Bearer first")
    ]  # no refresh, no resend


@pytest.mark.parametrize(
    "status, challenge",
    [(401, 'Bearer error="invalid_token"'), (403, 'Bearer error="insufficient_scope", scope="mcp:admin"')],
)
async def test_a_refusal_is_handed_to_the_sdk_flow_as_the_answer_to_the_request_sent(status, challenge):
    auth = signed_in()
    sent: list[httpx2.Request] = []

    def refuse_then_nothing(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/mcp":
            return httpx2.Response(status, headers={"www-authenticate": challenge})
        return httpx2.Response(500)  # the flow's discovery: it stops there

    with pytest.raises(Exception, match="metadata"):
        await send(auth, refuse_then_nothing, sent)
    # The flow went on from the refusal (discovery) instead of sending the request again.
    assert [r.url.path for r in sent][:2] == ["/mcp", "/.well-known/oauth-protected-resource/mcp"]
    assert [r.url.path for r in sent].count("/mcp") == 1
