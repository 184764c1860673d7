"""Workarounds for weaknesses of FastMCP 4.2.3's OAuth proxy, one override per weakness.

FastMCP's proxy stays as it is: each method below calls FastMCP's own and changes one
thing around it. Each names the FastMCP line that needs it and has a test in
tests/security/test_proxy_upstream_defects.py that FAILS once FastMCP fixes the cause;
delete the override then.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from fastmcp.server.auth.oauth_proxy.models import ProxyDCRClient
from fastmcp.server.auth.oidc_proxy import OIDCProxy
from joserfc.errors import JoseError
from key_value.aio.protocols import AsyncKeyValue
from mcp.server.auth.provider import AccessToken, AuthorizationCode, RefreshToken
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from starlette.routing import Route

from sandbox.accepted_tokens import AcceptedTokens
from sandbox.proxy_routes import guard_routes
from sandbox.store_cache import WriteThroughCache
from sandbox.token_resource import TokenResource
from sandbox.token_watch import watching
from sandbox.verified_tokens import VerifiedProxyTokens

REVOKED_COLLECTION = "sandbox-revoked-access-tokens"
# How long a finished refresh still answers the requests that were already in flight with
# it: they passed FastMCP's refresh-token lookup before the rotation deleted the token.
# A replay that arrives later fails that lookup and never gets here.
REFRESH_ANSWER_SECONDS = 30.0


class KeyedLocks:
    """One lock per key, forgotten when nobody holds or waits for it.

    ``async with locks.hold(key):``. A plain context manager, not contextlib's: that one
    sets ``__traceback__`` on what it re-raises, which the SDK's frozen TokenError refuses.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def hold(self, key: str) -> _Held:
        return _Held(self._locks, key)


class _Held:
    def __init__(self, locks: dict[str, tuple[asyncio.Lock, int]], key: str) -> None:
        self._locks = locks
        self._key = key

    async def __aenter__(self) -> None:
        lock, users = self._locks.get(self._key, (asyncio.Lock(), 0))
        self._locks[self._key] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._release_user()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._locks[self._key][0].release()
        self._release_user()

    def _release_user(self) -> None:
        lock, users = self._locks[self._key]
        if users == 1:
            del self._locks[self._key]
        else:
            self._locks[self._key] = (lock, users - 1)


# A proxy access token's jti and exp: all that revocation needs of its claims.
_TokenId = tuple[str, object]

# The proxy's own access token behind the upstream one that load_access_token just
# returned: FastMCP hands revoke_token the upstream token (the SDK's revocation handler
# loads, then revokes, in one task), and the proxy's jti is what /mcp must stop accepting.
_loaded: contextvars.ContextVar[tuple[str, _TokenId] | None] = contextvars.ContextVar(
    "sandbox_loaded_token", default=None
)


if TYPE_CHECKING:
    # The mixin's super() is FastMCP's proxy; the checker sees it so, the runtime MRO makes it so.
    _Proxy = OIDCProxy
else:
    _Proxy = object


class ProxyWorkarounds(_Proxy):
    """Mixed in before FastMCP's ``OIDCProxy``; expects ``client_storage`` and ``consent_key`` keywords."""

    def __init__(self, *, consent_key: bytes, client_storage: AsyncKeyValue, **kwargs: Any) -> None:
        self._consent_key = consent_key
        self._revoked_store = client_storage
        self._code_locks = KeyedLocks()
        self._refreshes: dict[str, asyncio.Task[OAuthToken]] = {}
        # Only over the write-through cache, whose reads tell a watch what they stand on.
        self._accepted = AcceptedTokens() if isinstance(client_storage, WriteThroughCache) else None
        super().__init__(client_storage=client_storage, **kwargs)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        """Codes are single-use under concurrency (RFC 6749 §4.1.2).

        FastMCP reads the code (oauth_proxy/proxy.py:1368, ``_code_store.get``) and deletes
        it only after several awaits (proxy.py:1404), so 8 concurrent redemptions all read
        it and get 8 token sets. One at a time per code, the second finds it deleted.
        """
        async with self._code_locks.hold(authorization_code.code):
            return await super().exchange_authorization_code(client, authorization_code)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        """Concurrent refreshes with one refresh token make one upstream call and share its answer.

        FastMCP sends each of them upstream (proxy.py:1888, ``oauth_client.refresh_token``);
        the realm revokes a refresh token on use, so all but the first fail and Keycloak
        ends the user's session over the reuse. Here the first call runs, and every call
        that was already under way with the same token gets the same tokens (or error).
        A failed refresh is forgotten at once: the IdP rotated nothing, so the next call
        (a client retrying once the IdP is back) must go upstream again, not get the error.
        """
        key = hashlib.sha256(f"{client.client_id}\n{refresh_token.token}".encode()).hexdigest()
        flight = self._refreshes.get(key)
        if flight is None:
            flight = asyncio.ensure_future(super().exchange_refresh_token(client, refresh_token, scopes))
            self._refreshes[key] = flight
            flight.add_done_callback(lambda done: self._forget_refresh(key, done))
        return await asyncio.shield(flight)

    def _forget_refresh(self, key: str, done: asyncio.Task[OAuthToken]) -> None:
        if done.cancelled() or done.exception() is not None:
            self._refreshes.pop(key, None)
        else:
            asyncio.get_running_loop().call_later(REFRESH_ANSWER_SECONDS, self._refreshes.pop, key, None)

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        """Revoking an access token invalidates it at /mcp at once (RFC 7009 §2.2).

        FastMCP only forwards an access token's revocation upstream and leaves its own
        reference to it ("Access token JTI mappings expire via TTL", proxy.py:2472), and
        /mcp verifies the upstream token locally, so the revoked token keeps working.
        The jti is remembered as revoked (in the proxy's store, so a restart keeps it)
        until the token would have expired anyway. Likewise revoking a refresh token
        SHOULD end the access tokens of its grant (RFC 7009 §2.1), as Keycloak's session
        end does; FastMCP deletes only the refresh token's own record (proxy.py:2476), so
        the grant's upstream token set goes too, which every one of its access tokens needs.
        """
        loaded = _loaded.get()
        own = self._own_access_token(token.token) if isinstance(token, AccessToken) else None
        if own is None and isinstance(token, AccessToken) and loaded and loaded[0] == token.token:
            own = loaded[1]
        if own is not None:
            jti, expires = own
            ttl = max(int(expires - time.time()), 1) if isinstance(expires, (int, float)) else 24 * 3600
            await self._revoked_store.put(
                key=jti, value={"revoked_at": time.time()}, collection=REVOKED_COLLECTION, ttl=ttl
            )
        await super().revoke_token(token)
        if isinstance(token, RefreshToken):
            await self._end_grant(token.token)

    async def _end_grant(self, refresh_token: str) -> None:
        try:
            jti = self.jwt_issuer.verify_token(refresh_token, expected_token_use="refresh")["jti"]
        except (JoseError, ValueError, KeyError):
            return
        mapping = await self._jti_mapping_store.get(key=jti)
        if mapping is not None:
            await self._upstream_token_store.delete(key=mapping.upstream_token_id)

    # FastMCP's own signature (proxy.py:2245), which already differs from its base's the same way.
    async def load_access_token(self, token: str) -> AccessToken | None:  # type: ignore[override]
        """FastMCP's check, refusing the access tokens revoked above; answered from memory
        while everything it read still stands (sandbox/accepted_tokens.py)."""
        own = self._own_access_token(token)
        if own is None:
            return await super().load_access_token(token)
        accepted = self._accepted.get(token) if self._accepted is not None else None
        if accepted is not None:
            _loaded.set((accepted.token, own))
            return accepted
        with watching() as watch:
            if await self._revoked_store.get(key=own[0], collection=REVOKED_COLLECTION):
                return None
            validated = await super().load_access_token(token)
        if validated is not None:
            _loaded.set((validated.token, own))
            if self._accepted is not None and watch.rememberable:
                self._accepted.remember(token, validated, watch, until=await self._answer_lasts(own))
        return validated

    async def _answer_lasts(self, own: _TokenId) -> float:
        """Until when FastMCP's check of the token ``own`` names gives the same answer, on time
        alone: its ``exp`` (refused once ``exp < now``), and the moment FastMCP would begin to
        refresh the grant's upstream token (``expires_at`` less its threshold, proxy.py:2318)."""
        jti, expires = own
        until = float(expires) if isinstance(expires, (int, float)) else time.time()
        threshold = self._token_expiry_threshold_seconds
        try:
            mapping = await self._jti_mapping_store.get(key=jti)
            upstream = await self._upstream_token_store.get(key=mapping.upstream_token_id) if mapping else None
        except Exception:  # the token was accepted: a read failing now only means remember nothing
            upstream = None
        if upstream is None:
            # Gone while checked, or never there: an ID-JAG token (SEP-990) has no mapping, and
            # its check reads in-memory state no watch sees (FastMCP's revoked ID-JAG jtis).
            return time.time() - 1
        if upstream.refresh_token:
            until = min(until, upstream.expires_at - threshold - 1)
        return until

    def _own_access_token(self, token: str) -> _TokenId | None:
        """The jti and exp of the proxy's own access token; None if it is not one."""
        issuer = self.jwt_issuer
        try:
            if isinstance(issuer, VerifiedProxyTokens):  # remembered: no copy of the claims
                jti, expires = issuer.token_id(token)
            else:
                payload = issuer.verify_token(token)
                jti, expires = payload.get("jti"), payload.get("exp")
        except (JoseError, ValueError, KeyError):
            return None
        return (jti, expires) if isinstance(jti, str) else None

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        """A registered client may use only the redirect URIs it registered (RFC 9700 §4.1.1).

        FastMCP puts the server-wide patterns on every stored client (proxy.py:991) and
        its ProxyDCRClient then checks the patterns alone (oauth_proxy/models.py:342), so
        any ``http://localhost:*`` URI passes for any client. Without the patterns it
        compares with the registered URIs (models.py:333-336), letting the port vary for
        loopback as RFC 8252 §7.3 requires. Registration still checks the patterns.
        """
        client = await super().get_client(client_id)
        if (
            isinstance(client, ProxyDCRClient)
            and client.cimd_document is None
            and not client.allow_unregistered_redirect_uris
        ):
            client.allowed_redirect_uri_patterns = None
        return client

    def _cookie_signing_key(self) -> bytes:
        """Consent cookies are signed with a key from the state directory.

        FastMCP signs them with the upstream client secret (oauth_proxy/consent.py:144),
        which the realm file publishes, so anyone can forge a consent cookie.
        """
        return self._consent_key

    def get_routes(self, mcp_path: str | None = None) -> list[Route]:
        """FastMCP's routes with the guards of sandbox/proxy_routes.py, and /token's resource check
        (sandbox/token_resource.py)."""
        routes = super().get_routes(mcp_path)
        resource = self._resource_url  # set by set_mcp_path, inside FastMCP's get_routes
        return guard_routes(
            routes, {"/token": partial(TokenResource, resource_url=str(resource))} if resource else None
        )
