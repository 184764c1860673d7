"""Tokens verified once, not on every MCP call: the upstream token (``VerifiedTokens``) and the
proxy's own (``VerifiedProxyTokens``), each remembered until it expires.

FastMCP's proxy re-verifies the stored upstream token on every MCP call (JWKS lookup,
RS256 signature, claims), the same bytes each time. This verifier answers a token it
accepted before from memory, and only while FastMCP's own verifier would accept it again:

- never past the token's ``exp`` (the same ``exp < now`` rule as FastMCP's), so expiry is
  never extended;
- only while FastMCP still holds the very key object the token was verified with: a JWKS
  refetch that drops the key (or replaces it under the same ``kid``) ends every answer
  given with it, and so does FastMCP's cache of the JWKS going stale (it would refetch);
- revocation is not this layer's: FastMCP looks up the proxy token's jti mapping and the
  upstream token set in the store before it asks the verifier, and the sandbox's revocation
  check (sandbox/proxy_workarounds.py) runs before that, so a revoked or ended grant never
  reaches this cache.

It relies on ``JWTVerifier``'s key cache (``_jwks_cache``, ``_jwks_cache_time``, ``_cache_ttl``);
tests/sandbox/test_verified_tokens.py fails if FastMCP renames or reshapes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.server.auth.jwt_issuer import JWTIssuer
from fastmcp.server.auth.providers.jwt import JWTVerifier
from fastmcp.utilities.auth import decode_jwt_header
from mcp.server.auth.provider import AccessToken as SdkAccessToken

from sandbox.copies import IMMUTABLE, copier, fresh
from sandbox.token_watch import answered_afresh, answered_from_memory

# Tokens remembered at most; the oldest go first. One per signed-in grant is typical.
CAPACITY = 4096


_V = TypeVar("_V")


def remember_bounded(remembered: dict[str, _V], token: str, value: _V, capacity: int) -> None:
    """``remembered[token] = value``, the oldest entry going first once ``capacity`` are held."""
    if len(remembered) >= capacity:
        del remembered[next(iter(remembered))]
    remembered[token] = value


# FastMCP's AccessToken or the MCP SDK's it extends: the proxy's overrides are typed with the latter.
_Token = TypeVar("_Token", bound=SdkAccessToken)


def fresh_token(token: _Token) -> _Token:
    """``token`` with every mutable field (scopes, claims) copied by :func:`fresh`."""
    return token_copier(token)(token)


def token_copier(token: _Token) -> Callable[[_Token], _Token]:
    """:func:`fresh_token` for ``token``, its fields' copies planned once (sandbox/copies.py:
    for a cache's own copy, which nobody edits)."""
    if token.__pydantic_extra__ or token.__pydantic_private__:  # not FastMCP's shape: copy all of it
        return lambda same: same.model_copy(deep=True)
    plans = [(name, copier(value)) for name, value in token.__dict__.items() if type(value) not in IMMUTABLE]
    return lambda same: same.model_copy(update={name: plan(same.__dict__[name]) for name, plan in plans})


@dataclass(frozen=True)
class _Verified:
    token: AccessToken
    kid: str | None
    key: object  # the key object FastMCP verified with, compared by identity
    expires: float
    copy: Callable[[AccessToken], AccessToken]  # token_copier(token)


class VerifiedTokens(TokenVerifier):
    """``verifier`` (FastMCP's ``JWTVerifier``), answering what it accepted from memory while that still holds."""

    def __init__(
        self, verifier: JWTVerifier, *, clock: Callable[[], float] = time.time, capacity: int = CAPACITY
    ) -> None:
        super().__init__(base_url=verifier.base_url, required_scopes=verifier.required_scopes)
        self.verifier = verifier
        self._clock = clock
        self._capacity = capacity
        self._verified: dict[str, _Verified] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        known = self._verified.get(token)
        if known is not None:
            if self._clock() > known.expires:  # FastMCP refuses it too: exp < now
                del self._verified[token]
                return None
            if self._current_key(known.kid) is known.key:
                answered_from_memory(self._still, token, known, upstream_verification=True)
                # A deep copy: a caller that edits its answer's scopes or claims (a tool, a
                # middleware) must not change what the next call with this token is told.
                return known.copy(known.token)
            del self._verified[token]  # the key went: FastMCP decides afresh
        answered_afresh()
        kid = _kid(token)
        before = self._current_key(kid)
        validated = await self.verifier.verify_token(token)
        if validated is None or validated.expires_at is None:
            return validated
        # The key it was checked with: the one held before, unless there was none and the check
        # fetched it. A key swapped while the check ran (a refetch under way) leaves nothing behind.
        used = self._current_key(kid)
        if used is not None and before in (None, used):
            own = fresh_token(validated)
            verified = _Verified(own, kid, used, float(validated.expires_at), token_copier(own))
            remember_bounded(self._verified, token, verified, self._capacity)
        return validated

    def _still(self, token: str, known: _Verified) -> bool:
        """Whether ``known`` would still be the answer for ``token``: remembered, unexpired, its key held."""
        return (
            self._verified.get(token) is known
            and self._clock() <= known.expires
            and self._current_key(known.kid) is known.key
        )

    def _current_key(self, kid: str | None) -> object | None:
        """The key FastMCP would verify a token with ``kid`` with right now; None if it would fetch or refuse."""
        verifier = self.verifier
        if verifier.public_key:
            return verifier.public_key
        if time.monotonic() - verifier._jwks_cache_time >= verifier._cache_ttl:
            return None
        keys = verifier._jwks_cache
        if kid:
            return keys.get(kid)
        return next(iter(keys.values())) if len(keys) == 1 else None


def _kid(token: str) -> str | None:
    try:
        header = decode_jwt_header(token)
    except ValueError:  # not a JWT: FastMCP's verifier refuses it, nothing is remembered
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


class VerifiedProxyTokens(JWTIssuer):
    """FastMCP's issuer of the proxy's own tokens, remembering the access tokens it verified.

    Every MCP call has the proxy's HS256 token checked twice (the sandbox's revocation lookup
    needs its jti, then FastMCP's ``load_access_token``), the same bytes each time. The
    signing key never changes while the process runs, so what one check accepted, the next
    accepts too until ``exp``; past it, FastMCP's own check runs and refuses it. Refresh
    tokens are always checked afresh (each is used once).
    """

    def __init__(self, issuer: JWTIssuer, *, clock: Callable[[], float] = time.time, capacity: int = CAPACITY) -> None:
        super().__init__(issuer=issuer.issuer, audience=issuer.audience, signing_key=issuer._signing_key)
        self._clock = clock
        self._capacity = capacity
        self._verified: dict[
            str, tuple[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]]
        ] = {}  # the payload and its copier

    def token_id(self, token: str) -> tuple[object, object]:
        """The ``jti`` and ``exp`` of an access token :meth:`verify_token` accepts (raising as it does).

        No copy of the claims: the sandbox's revocation check needs only these two, both
        immutable, so what it is given cannot reach what the next call is told.
        """
        remembered = self._remembered(token)
        known = remembered[0] if remembered is not None else self.verify_token(token)
        return known.get("jti"), known.get("exp")

    def verify_token(self, token: str, expected_token_use: str = "access") -> dict[str, Any]:
        if expected_token_use != "access":
            return super().verify_token(token, expected_token_use)
        remembered = self._remembered(token)
        if remembered is not None:
            known, copy = remembered
            return copy(known)  # nested claims too: an edited answer changes no later one
        payload = super().verify_token(token)
        own = fresh(payload)
        remember_bounded(self._verified, token, (own, copier(own)), self._capacity)
        return payload

    def _remembered(self, token: str) -> tuple[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]] | None:
        """The payload accepted before and its copier, while it has not expired (forgotten once it has)."""
        remembered = self._verified.get(token)
        if remembered is None:
            return None
        expires = remembered[0].get("exp")
        if expires is None or expires >= self._clock():  # FastMCP's rule: refused once exp < now
            return remembered
        del self._verified[token]
        return None
