"""FastMCP's OIDC proxy, configured for the sandbox's realm. Configuration only."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastmcp.server.auth import TokenVerifier
from fastmcp.server.auth.cimd import CIMDFetcher
from fastmcp.server.auth.oauth_proxy.upstream import AsyncOAuth2Client
from fastmcp.server.auth.oidc_proxy import OIDCConfiguration, OIDCProxy
from fastmcp.server.auth.providers.jwt import JWTVerifier
from key_value.aio.protocols import AsyncKeyValue
from pydantic import AnyHttpUrl

from sandbox.backends import Upstream
from sandbox.callback_issuer import CallbackIssuer
from sandbox.cimd import LoopbackCIMDFetcher
from sandbox.enterprise import identity_assertion
from sandbox.idp_client import SharedIdpClient, SharedJwksClient
from sandbox.issuer import BareIssuer
from sandbox.proxy_workarounds import ProxyWorkarounds
from sandbox.refresh_errors import RefreshErrors
from sandbox.replay_detection import ReplayDetection
from sandbox.settings import SandboxSettings
from sandbox.stepup import ADMIN_SCOPE, StepUpClientScopes
from sandbox.store_outage import StoreOutageTokens
from sandbox.tls import LocalCA
from sandbox.verified_tokens import VerifiedProxyTokens, VerifiedTokens

if TYPE_CHECKING:
    from sandbox.trace.upstream import ClientHooks

CALLBACK_PATH = "/auth/callback"
# MCP clients listen on a random loopback port; both loopback spellings are in use.
CLIENT_REDIRECT_PATTERNS = ["http://localhost:*", "http://127.0.0.1:*"]
SCOPES = ["openid", "profile", "email"]
# What a client may also ask for, by step-up (sandbox/stepup.py); forwarded to the IdP.
STEP_UP_SCOPES = [ADMIN_SCOPE]


class SandboxOIDCProxy(
    StoreOutageTokens,
    CallbackIssuer,
    RefreshErrors,
    ReplayDetection,
    StepUpClientScopes,
    ProxyWorkarounds,
    SharedIdpClient,
    SharedJwksClient,
    OIDCProxy,
):
    """OIDCProxy that can take the discovery document in hand.

    OIDCProxy fetches discovery in its constructor, before the sandbox serves the
    in-process mock IdP; the mock backend hands the document over instead. The
    workarounds for FastMCP's proxy weaknesses are in sandbox/proxy_workarounds.py (and,
    for a store that went away, sandbox/store_outage.py; for an IdP failing a refresh,
    sandbox/refresh_errors.py; for a spent token or code presented again,
    sandbox/replay_detection.py; for a callback not naming the IdP, sandbox/callback_issuer.py;
    for its clients to the IdP, sandbox/idp_client.py).
    """

    # Set by the flow trace: event hooks for the proxy's own calls to the IdP.
    trace_hooks: ClientHooks | None = None

    def __init__(self, *, discovery: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._discovery = discovery
        super().__init__(**kwargs)

    def _create_upstream_oauth_client(self) -> AsyncOAuth2Client:
        """FastMCP's upstream client, unchanged, with the trace's hooks on its HTTP client."""
        client = super()._create_upstream_oauth_client()
        if self.trace_hooks is not None:
            self.trace_hooks.install(client._client)
        return client

    @property
    def cimd_fetcher(self) -> CIMDFetcher | None:
        """The Client ID Metadata Document fetcher (sandbox/cimd.py), for the trace; None without CIMD."""
        return self._cimd_manager._fetcher if self._cimd_manager is not None else None

    def get_oidc_configuration(
        self, config_url: AnyHttpUrl, strict: bool | None, timeout_seconds: int | None
    ) -> OIDCConfiguration:
        if self._discovery is None:
            return super().get_oidc_configuration(config_url, strict, timeout_seconds)
        return OIDCConfiguration.model_validate({**self._discovery, "strict": strict is not False})

    def get_token_verifier(self, **kwargs: Any) -> TokenVerifier:
        """FastMCP's verifier of upstream tokens, remembering what it accepted (sandbox/verified_tokens.py).

        One reason: FastMCP re-verifies the same stored upstream token on every MCP call.
        """
        verifier = super().get_token_verifier(**kwargs)
        return VerifiedTokens(verifier) if isinstance(verifier, JWTVerifier) else verifier

    def set_mcp_path(self, mcp_path: str | None) -> None:
        """FastMCP's, whose issuer of the proxy's tokens then remembers what it verified (sandbox/verified_tokens.py).

        One reason: each MCP call has the same proxy token checked twice (HS256), here and in FastMCP.
        """
        super().set_mcp_path(mcp_path)
        if self._jwt_issuer is not None:
            self._jwt_issuer = VerifiedProxyTokens(self._jwt_issuer)


def build_proxy(
    settings: SandboxSettings,
    upstream: Upstream,
    client_id: str,
    client_secret: str,
    *,
    storage: AsyncKeyValue,
    signing_key: bytes,
    consent_key: bytes,
) -> SandboxOIDCProxy:
    proxy = SandboxOIDCProxy(
        config_url=upstream.discovery_url,
        discovery=upstream.discovery,
        strict=True,
        client_id=client_id,
        client_secret=client_secret,
        # Upstream access tokens must name this MCP server (the realm's audience mapper).
        audience=settings.mcp_url,
        required_scopes=["openid"],
        valid_scopes=SCOPES + STEP_UP_SCOPES,
        base_url=settings.base_url,
        redirect_path=CALLBACK_PATH,
        allowed_client_redirect_uris=CLIENT_REDIRECT_PATTERNS,
        client_storage=storage,
        jwt_signing_key=signing_key,
        consent_key=consent_key,
        require_authorization_consent=settings.consent,
        fastmcp_access_token_expiry_seconds=settings.access_token_lifetime,
        # Client ID Metadata Documents, the 2026-07-28 profile's recommended registration.
        enable_cimd=True,
        # SEP-990: ID-JAGs the realm issues are accepted at /token (sandbox/enterprise.py).
        identity_assertion=identity_assertion(upstream),
    )
    # The issuer byte for byte as clients were given it: no trailing slash (sandbox/issuer.py).
    # Set after construction, where FastMCP would log a bogus "issuer differs from base_url".
    proxy.issuer_url = BareIssuer(settings.base_url)
    trust_loopback_documents(proxy, cimd_trust_anchors(settings))
    return proxy


def cimd_trust_anchors(settings: SandboxSettings) -> list[Path]:
    """The sandbox's own CA (made on first start) and ``--cimd-ca`` if given."""
    anchors = [LocalCA(settings.tls_dir).ensure()]
    if settings.cimd_ca is not None:
        anchors.append(settings.cimd_ca)
    return anchors


def trust_loopback_documents(proxy: SandboxOIDCProxy, ca_files: list[Path]) -> None:
    """One reason: FastMCP 4.2.3 cannot fetch a CIMD document on loopback (sandbox/cimd.py)."""
    manager = proxy._cimd_manager
    if manager is not None:
        manager._fetcher = LoopbackCIMDFetcher(ca_files)
