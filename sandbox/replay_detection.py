"""A spent refresh token or code presented again ends its grant (RFC 9700 §4.14.2, RFC 6749 §4.1.2).

FastMCP 4.2.3 rotates the proxy's refresh tokens and deletes a redeemed code, so a second
use of either finds nothing and gets ``invalid_grant`` (proxy.py:1808, :1368), and that is
all. But a spent token coming back means two parties hold it: the client and whoever stole
it. RFC 9700 §4.14.2 has the server revoke the grant then, since it cannot tell which of
the two is the attacker, and RFC 6749 §4.1.2 says a replayed code SHOULD revoke the tokens
it gave. Keycloak does the first itself (the realm's ``revokeRefreshToken``), but the proxy
answers the replay before Keycloak ever sees it, so the thief's newer tokens kept working.

Here each redemption and refresh records what it spent (a hash, never the token) against
its grant, the upstream token set every token of that grant stands on, until the spent
token would have expired anyway. A spent one presented again deletes that set: the grant's
access tokens and its newest refresh token stop working at once (sandbox/accepted_tokens.py
watches that record). A second presentation within ``GRACE_SECONDS`` is a client's own
retry racing its first answer, as concurrent refreshes are (sandbox/proxy_workarounds.py),
and only refused. Only a presentation at ``/token`` counts: the SDK's ``/revoke`` loads the
token the same way, and revoking a token that is already spent is harmless (RFC 7009 §2.2),
as it is at Keycloak, whose revocation is no reuse. tests/security/test_proxy_upstream_defects.py FAILS once FastMCP revokes
on reuse itself; delete this then.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import time
from typing import TYPE_CHECKING, Any

from joserfc.errors import JoseError
from key_value.aio.protocols import AsyncKeyValue
from mcp.server.auth.provider import AuthorizationCode, RefreshToken
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from fastmcp.server.auth.oidc_proxy import OIDCProxy

log = logging.getLogger("sandbox.proxy")

SPENT_COLLECTION = "sandbox-spent-grants"
# A replay this soon after the first use is the client's own retry or race, not a theft.
GRACE_SECONDS = 2.0
# How long a spent code is remembered: longer than any code lives (the realm's 60 s).
SPENT_CODE_SECONDS = 600


# Set while the SDK's /token handler runs: the only place a presented token is a use of it.
_at_token_endpoint: contextvars.ContextVar[bool] = contextvars.ContextVar("sandbox_at_token", default=False)


class TokenEndpoint:
    """``/token``: marks the request, for :meth:`ReplayDetection._replayed` (one of the route's
    guards, sandbox/proxy_routes.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        marked = _at_token_endpoint.set(True)
        try:
            await self.app(scope, receive, send)
        finally:
            _at_token_endpoint.reset(marked)


def _spent_key(kind: str, token: str) -> str:
    return hashlib.sha256(f"{kind}\n{token}".encode()).hexdigest()


if TYPE_CHECKING:
    # The mixin's super() is FastMCP's proxy; the checker sees it so, the runtime MRO makes it so.
    _Proxy = OIDCProxy
else:
    _Proxy = object


class ReplayDetection(_Proxy):
    """Mixed in before FastMCP's ``OIDCProxy``; expects ``client_storage`` (the proxy's store)."""

    def __init__(self, *, client_storage: AsyncKeyValue, **kwargs: Any) -> None:
        self._spent_store = client_storage
        super().__init__(client_storage=client_storage, **kwargs)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        tokens = await super().exchange_authorization_code(client, authorization_code)
        grant = await self._grant_of(tokens.access_token, "access")
        await self._spend("code", authorization_code.code, grant, SPENT_CODE_SECONDS)
        return tokens

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        grant = await self._grant_of(refresh_token.token, "refresh")  # read first: FastMCP deletes it
        tokens = await super().exchange_refresh_token(client, refresh_token, scopes)
        lives = int((refresh_token.expires_at or time.time() + SPENT_CODE_SECONDS) - time.time())
        await self._spend("refresh", refresh_token.token, grant, max(lives, 1))
        return tokens

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        loaded = await super().load_authorization_code(client, authorization_code)
        if loaded is None:
            await self._replayed("code", authorization_code, client)
        return loaded

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        loaded = await super().load_refresh_token(client, refresh_token)
        if loaded is None:
            await self._replayed("refresh", refresh_token, client)
        return loaded

    async def _grant_of(self, token: str, use: str) -> str | None:
        """The upstream token set id the proxy's ``token`` stands on; None if it is not one of the proxy's."""
        try:
            jti = self.jwt_issuer.verify_token(token, expected_token_use=use)["jti"]
        except (JoseError, ValueError, KeyError):
            return None
        mapping = await self._jti_mapping_store.get(key=jti)
        return mapping.upstream_token_id if mapping is not None else None

    async def _spend(self, kind: str, token: str, grant: str | None, ttl: int) -> None:
        if grant is None:  # an ID-JAG grant (SEP-990) has no upstream set to end
            return
        record = {"grant": grant, "spent_at": time.time()}
        await self._spent_store.put(key=_spent_key(kind, token), value=record, collection=SPENT_COLLECTION, ttl=ttl)

    async def _replayed(self, kind: str, token: str, client: OAuthClientInformationFull) -> None:
        if not _at_token_endpoint.get():  # /revoke of a spent token: already invalid, nothing to end
            return
        record = await self._spent_store.get(key=_spent_key(kind, token), collection=SPENT_COLLECTION)
        if record is None or time.time() - float(record["spent_at"]) < GRACE_SECONDS:
            return
        if await self._upstream_token_store.delete(key=str(record["grant"])):
            log.warning(
                "a spent %s was presented again (client %s): ended its grant, RFC 9700 §4.14.2",
                "refresh token" if kind == "refresh" else "authorization code",
                client.client_id,
            )
