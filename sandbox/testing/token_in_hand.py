"""A call made with a valid token in hand goes out without running the MCP SDK's OAuth flow.

FastMCP's client-side ``OAuth`` drives the MCP SDK's ``OAuthClientProvider`` flow for every
request: three nested async generators (FastMCP's retry wrapper, the SDK's redirect-aware
driver, the flow proper) and the provider's lock held across the whole request. When the
token is valid and no flow is running, all of that ends in the same two steps: put the
bearer on the request, send it. Measured in the client process by callgrind, the flow was
~125k instructions of an authenticated ``greet`` call (~4.7M), most of what authentication
added on the client side (issue 17).

:class:`TokenInHandOAuth` takes those two steps itself when the SDK's flow would take
nothing else: set up, not running (the lock is free, so no refresh or sign-in is half done),
the token valid by the SDK's own test. An answer the flow acts on (a 401, or a 403 step-up
challenge) is handed to a run of the SDK's flow as the answer to the same request, so the flow
decides what follows as if it had sent it; any other answer is returned as it is. Every other
case (no token yet, an expired one to refresh) is the SDK's from the start.

Where this differs from the SDK's own flow, it is while a request is in flight, and no call
runs twice (a refused request did not run): requests on one client are not sent one at a time
under the provider's lock, so after a revocation each call already sent is refused, then sent
again with the new token (the SDK would have held the later ones back until the sign-in); and
a 401 that arrives after the token's expiry on the client's clock is met with a refresh where
the SDK would sign in again. A request is never sent twice with the same token.
e2e/test_token_in_hand.py and tests/plugin/test_token_in_hand_wire.py show both halves: the flow
is skipped for a call, and a revoked token, an expired one and a step-up challenge are still
handled by it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import httpx2
from fastmcp.client.auth import OAuth
from mcp.client.auth.utils import extract_field_from_www_auth


class TokenInHandOAuth(OAuth):
    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        bearer = self._bearer_in_hand()
        answer: httpx2.Response | None = None
        if bearer is not None:
            # What the SDK's flow does when it holds a valid token (oauth2.py, `_auth_flow`), but
            # for noting the request's protocol version: only a flow reads that, and each run of
            # it notes it first, from the request it runs for.
            request.headers["Authorization"] = bearer
            answer = yield request
            if not _flow_acts_on(answer):
                return
        async with aclosing(super().async_auth_flow(request)) as flow:
            try:
                outgoing = await flow.__anext__()
                while True:
                    # The flow's first request is the one just sent, with the same token: its
                    # answer is known. Anything else (a refresh first, a token replaced
                    # meanwhile) goes out as the flow asks.
                    if answer is not None and outgoing is request and request.headers.get("Authorization") == bearer:
                        response = answer
                    else:
                        response = yield outgoing
                    answer = None
                    outgoing = await flow.asend(response)
            except StopAsyncIteration:
                return

    def _bearer_in_hand(self) -> str | None:
        """The Authorization header the SDK's flow would send this request with, doing nothing else."""
        context = self.context if self._bound else None
        if context is None or not self._initialized or context.lock.locked() or not context.is_token_valid():
            return None
        assert context.current_tokens is not None  # is_token_valid() says so
        return f"Bearer {context.current_tokens.access_token}"


def _flow_acts_on(answer: httpx2.Response) -> bool:
    """The answers the SDK's flow acts on after sending (oauth2.py, `_auth_flow`): a 401, or a
    403 step-up challenge. It returns any other as it is, and so does this: handed to a new run
    of the flow, a plain 403 could be sent again after a refresh."""
    return answer.status_code == 401 or (
        answer.status_code == 403 and extract_field_from_www_auth(answer, "error") == "insufficient_scope"
    )
