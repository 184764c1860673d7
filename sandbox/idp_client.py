"""The proxy's HTTP client to the IdP's token endpoint: one, kept for the proxy's life.

One reason: FastMCP 4.2.3 (oauth_proxy/proxy.py ``_upstream_oauth_client``) builds a new
``AsyncOAuth2Client``, so a new httpx2 client, for every call it makes upstream, and closes
it after. On the callback's path that is a TLS context parsed from certifi's bundle (about
14 ms of CPU, used or not: the mock IdP is plain http), a DNS lookup in a worker thread and
a new TCP connection: a quarter of a whole headless flow. Kept open, the client pools its
connection to the IdP. tests/sandbox/test_idp_client.py FAILS once FastMCP stops building a
client per call; delete this mixin then.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy

from fastmcp.server.auth.oauth_proxy import OAuthProxy
from fastmcp.server.auth.oauth_proxy.upstream import AsyncOAuth2Client


class SharedIdpClient(OAuthProxy):
    """``_upstream_oauth_client`` yields one client, made on first use, closed by :meth:`close_idp_client`.

    Made on first use, not in the constructor, so that the trace's hooks, which are set after
    the proxy is built, are on it (``SandboxOIDCProxy._create_upstream_oauth_client``). The
    client holds no per-call state: FastMCP passes each call's parameters, so concurrent calls
    share it safely (httpx's pool is made for that).
    """

    _idp_client: AsyncOAuth2Client | None = None

    @asynccontextmanager
    async def _upstream_oauth_client(self) -> AsyncIterator[AsyncOAuth2Client]:
        if self._idp_client is None:
            client = self._create_upstream_oauth_client()
            # Every user's code exchange and refresh goes through this one client, so it must
            # keep no cookies: one set on user A's token response (a load balancer's sticky
            # cookie, say) would ride along on user B's. FastMCP's client per call started empty.
            client._client.cookies = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
            self._idp_client = client
        yield self._idp_client

    async def close_idp_client(self) -> None:
        """Close the pooled connections, at the app's shutdown; a later call opens a new client."""
        client, self._idp_client = self._idp_client, None
        if client is not None:
            await client.aclose()
