"""The proxy's access tokens, accepted from memory while everything they were accepted from stands.

Every authenticated MCP call has the sandbox look the token's jti up among revoked tokens,
then FastMCP's ``load_access_token`` (oauth_proxy/proxy.py:2245) check the proxy's JWT, read
the jti mapping and the upstream token set (each read validated into a pydantic model),
verify the upstream token and copy its answer: ~150k of an authenticated call's ~3.9M
server instructions (issue 17), the same answer every time.

Here an answer is remembered together with what it was given from, and given again only
while all of that still holds, so it is always the answer the full check would give:

- every store read it made was answered by the write-through cache (sandbox/store_cache.py),
  and that very cache entry is still there and live. A write or delete of the key (a
  revocation, an ended grant, a refresh rewriting the upstream token set) drops the entry;
  so do the cache's bounds (a cached miss lives 30 s), and the next call checks in full;
- the upstream token's verification was answered from memory (sandbox/verified_tokens.py),
  and that answer still stands: not expired, the same JWKS key still held;
- never past the proxy token's ``exp`` (FastMCP refuses it once ``exp < now``), nor past the
  moment FastMCP would refresh the upstream token ahead of its expiry.

A read that did not come from memory (the first read of a key, a store without the cache)
leaves nothing remembered. Only the proxy builds one of these, and only over the
write-through cache: a Redis store has no cache, because other replicas write there behind
this one's back, and its reads would go unwatched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mcp.server.auth.provider import AccessToken

from sandbox.token_watch import Check, Watch
from sandbox.verified_tokens import CAPACITY, fresh_token, remember_bounded, token_copier


@dataclass(frozen=True, slots=True)
class _Accepted:
    token: AccessToken
    copy: Callable[[AccessToken], AccessToken]  # token_copier(token)
    until: float
    checks: tuple[Check, ...]


class AcceptedTokens:
    """Answers of the proxy's token check, each given again while its watch's checks hold."""

    def __init__(self, *, clock: Callable[[], float] = time.time, capacity: int = CAPACITY) -> None:
        self._clock = clock
        self._capacity = capacity
        self._accepted: dict[str, _Accepted] = {}

    def __len__(self) -> int:
        return len(self._accepted)

    def get(self, token: str) -> AccessToken | None:
        """The remembered answer for ``token`` (a copy), or None: check it in full."""
        accepted = self._accepted.get(token)
        if accepted is None:
            return None
        if self._clock() <= accepted.until:
            for check in accepted.checks:  # a loop, not all(<genexpr>): this runs on every MCP call
                if not check():
                    break
            else:
                # A copy: a caller that edits its answer's scopes or claims changes no later answer.
                return accepted.copy(accepted.token)
        del self._accepted[token]
        return None

    def remember(self, token: str, answer: AccessToken, watch: Watch, *, until: float) -> None:
        """Keep ``answer`` for ``token`` until ``until`` (a time on the clock), if ``watch`` allows."""
        if not watch.rememberable or until < self._clock():
            return
        own = fresh_token(answer)
        remember_bounded(
            self._accepted, token, _Accepted(own, token_copier(own), until, tuple(watch.checks)), self._capacity
        )
