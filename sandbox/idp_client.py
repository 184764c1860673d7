"""The proxy's HTTP clients to the IdP: one for its token endpoint, one for its JWKS, each kept
for the proxy's life and made off the request path.

One reason each, both FastMCP 4.2.3:
- ``OAuthProxy._upstream_oauth_client`` builds a new ``AsyncOAuth2Client``, so a new httpx2
  client, for every call it makes upstream, and closes it after. On the callback's path that
  is a TLS context parsed from the CA bundle (15-30 ms of CPU, used or not: the mock IdP is
  plain http), a DNS lookup in a worker thread and a new TCP connection: a quarter of a whole
  headless flow. Kept open, the client pools its connection to the IdP.
- ``OIDCProxy.get_token_verifier`` gives its ``JWTVerifier`` no HTTP client, so each JWKS
  fetch (the first token's, and one after every key rotation) builds one, the TLS parse
  included. The verifier is built as FastMCP builds it, with a kept client that verifies
  with the process's one trust store (sandbox/trust_store.py).

tests/sandbox/test_idp_client.py FAILS once FastMCP stops building a client per call, or
gives its verifier a client; delete the part concerned then.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx2
from fastmcp.server.auth import TokenVerifier
from fastmcp.server.auth.oauth_proxy import OAuthProxy
from fastmcp.server.auth.oauth_proxy.upstream import AsyncOAuth2Client
from fastmcp.server.auth.oidc_proxy import OIDCProxy
from fastmcp.server.auth.providers.jwt import JWTVerifier

from sandbox.trust_store import default_trust_store

# FastMCP's JWTVerifier fetches the JWKS with this timeout (providers/jwt.py, _fetch_jwks).
JWKS_TIMEOUT_SECONDS = 10.0


class SharedIdpClient(OAuthProxy):
    """``_upstream_oauth_client`` yields one client, closed by :meth:`close_idp_client`.

    Made by :meth:`make_idp_client_in_background` once the trace's hooks are set on the proxy
    (``SandboxOIDCProxy._create_upstream_oauth_client`` installs them), or else on first use.
    The background thread does the client's TLS parse, which holds no GIL, while start-up
    goes on. The client holds no per-call state: FastMCP passes each call's parameters, so
    concurrent calls share it safely (httpx's pool is made for that).
    """

    _idp_client: AsyncOAuth2Client | None = None
    _idp_client_made: Future[AsyncOAuth2Client] | None = None

    def make_idp_client_in_background(self) -> None:
        made: Future[AsyncOAuth2Client] = Future()

        def make() -> None:
            try:
                made.set_result(self._new_idp_client())
            except BaseException as exc:  # raised again where the client is first wanted
                made.set_exception(exc)

        self._idp_client_made = made
        # No daemon: the interpreter stops a daemon thread at exit wherever it is (mock_idp/keys.py).
        threading.Thread(target=make, name="sandbox-idp-client").start()

    @asynccontextmanager
    async def _upstream_oauth_client(self) -> AsyncIterator[AsyncOAuth2Client]:
        if self._idp_client is None:
            made = self._idp_client_made
            if made is None:
                self._idp_client = self._new_idp_client()
            else:
                try:
                    self._idp_client = await asyncio.wrap_future(made)
                except Exception:
                    self._idp_client_made = None  # this call reports it; the next ones try again here
                    raise
        yield self._idp_client

    def _new_idp_client(self) -> AsyncOAuth2Client:
        client = self._create_upstream_oauth_client()
        # Every user's code exchange and refresh goes through this one client, so it must
        # keep no cookies: one set on user A's token response (a load balancer's sticky
        # cookie, say) would ride along on user B's. FastMCP's client per call started empty.
        client._client.cookies = no_cookies()
        return client

    async def close_idp_client(self) -> None:
        """Close the pooled connections, at the app's shutdown; a later call opens a new client."""
        made, self._idp_client_made = self._idp_client_made, None
        client, self._idp_client = self._idp_client, None
        if client is None and made is not None:  # made in the background, never used
            try:
                client = await asyncio.wrap_future(made)
            except Exception:  # nothing was made; the cause is the first use's to report
                client = None
        if client is not None:
            await client.aclose()


class SharedJwksClient(OIDCProxy):
    """``get_token_verifier``: FastMCP's ``JWTVerifier``, as OIDCProxy builds it, with a kept JWKS client.

    :meth:`close_jwks_client` (the app's shutdown) hands the verifier a new, unopened client
    in place of the one it closes, so an app served again still fetches its JWKS.
    """

    jwks_client: httpx2.AsyncClient | None = None
    _jwks_verifier: JWTVerifier | None = None

    def get_token_verifier(
        self,
        *,
        algorithm: str | None = None,
        audience: str | None = None,
        required_scopes: list[str] | None = None,
        timeout_seconds: int | None = None,  # taken, and unused, as in OIDCProxy's
    ) -> TokenVerifier:
        self.jwks_client = _new_jwks_client()
        self._jwks_verifier = JWTVerifier(
            jwks_uri=str(self.oidc_config.jwks_uri),
            issuer=str(self.oidc_config.issuer),
            algorithm=algorithm,
            audience=audience,
            required_scopes=required_scopes,
            http_client=self.jwks_client,
        )
        return self._jwks_verifier

    async def close_jwks_client(self) -> None:
        client = self.jwks_client
        if client is None or self._jwks_verifier is None:
            return
        self.jwks_client = _new_jwks_client()  # unopened until a fetch: no connection, no CA parse
        self._jwks_verifier._http_client = self.jwks_client  # FastMCP's attribute: no setter
        await client.aclose()


def _new_jwks_client() -> httpx2.AsyncClient:
    # No cookies either: an IdP's (or its balancer's) cookie on a JWKS answer has no business
    # on the next fetch, as on the token client's calls.
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(JWKS_TIMEOUT_SECONDS), verify=default_trust_store(), cookies=no_cookies()
    )


def no_cookies() -> CookieJar:
    """A cookie jar that keeps nothing."""
    return CookieJar(DefaultCookiePolicy(allowed_domains=[]))
