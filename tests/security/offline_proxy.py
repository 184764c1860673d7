"""FastMCP's plain ``OAuthProxy`` (or a sandbox mixin over it) with no IdP behind it, for the twin tests."""

from __future__ import annotations

import time
from typing import Any

from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.server.auth.oauth_proxy import OAuthProxy
from key_value.aio.protocols import AsyncKeyValue

from sandbox.proxy import CLIENT_REDIRECT_PATTERNS


class AnyUpstreamToken(TokenVerifier):
    """Stands in for the JWKS check of the upstream token: every upstream token is valid."""

    async def verify_token(self, token: str) -> AccessToken | None:
        return AccessToken(token=token, client_id="upstream", scopes=["openid"], expires_at=int(time.time()) + 300)


def offline_proxy(kind: type[OAuthProxy], storage: AsyncKeyValue, **options: Any) -> Any:
    """``kind`` over ``storage``, its upstream at ``idp.invalid`` (never called unless a test stubs it)."""
    return kind(
        upstream_authorization_endpoint="http://idp.invalid/auth",
        upstream_token_endpoint="http://idp.invalid/token",
        upstream_client_id="sandbox-proxy",
        upstream_client_secret=options.pop("upstream_client_secret", "secret"),
        token_verifier=AnyUpstreamToken(),
        base_url="http://localhost:8000",
        allowed_client_redirect_uris=CLIENT_REDIRECT_PATTERNS,
        client_storage=storage,
        jwt_signing_key=b"k" * 32,
        enable_cimd=False,
        **options,
    )
