"""A hop as the trace sees it, and what kind of step it is (by path, method and grant)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl, urlsplit

from sandbox.trace.masking import basic_user


@dataclass
class Hop:
    """One HTTP exchange: what was asked and what was answered (raw; masking comes later)."""

    method: str
    url: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    seq: int
    started: float
    peer: str = ""  # "host:port" of the caller: one HTTP connection, one client
    form: dict[str, str] = field(default_factory=dict)
    json: Any = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_json: Any = None
    response_text: str = ""
    duration_ms: float | None = None

    @property
    def params(self) -> dict[str, str]:
        params = dict(self.query)
        params.update(self.form)
        if isinstance(self.json, dict):
            params.update({k: v for k, v in self.json.items() if isinstance(v, str)})
        return params

    @property
    def location(self) -> str | None:
        return self.response_headers.get("location")

    @property
    def location_params(self) -> dict[str, str]:
        location = self.location
        if not location:
            return {}
        return dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))

    @property
    def bearer(self) -> str | None:
        return bearer_of(self.headers.get("authorization", ""))

    @property
    def caller_client_id(self) -> str | None:
        """The client authenticating at a token/revocation endpoint (Basic user or client_id)."""
        scheme, _, credential = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            return basic_user(credential.strip())
        return self.params.get("client_id")


def bearer_of(authorization: str) -> str | None:
    """The token of a ``Bearer`` Authorization value; None for any other scheme."""
    scheme, _, credential = authorization.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" and credential else None


# Every kind of step the trace records, each explained in explain.py (its tests derive their list from here).
StepKind = Literal[
    "unauthorized",
    "prm_discovery",
    "as_metadata",
    "registration",
    "cimd_fetch",
    "authorize",
    "consent_shown",
    "consent_decided",
    "upstream_redirect",
    "idp_authorize",
    "idp_login",
    "idp_consent",
    "callback",
    "upstream_token_exchange",
    "token_exchange",
    "token_issued",
    "mcp_call",
    "upstream_mcp",
    "step_up",
    "refresh",
    "upstream_refresh",
    "revocation",
    "upstream_revocation",
    "upstream_discovery",
    "jwks",
    "userinfo",
    "other",  # a request on an OAuth path that no other kind describes
]
STEP_KINDS: frozenset[str] = frozenset(get_args(StepKind))


@dataclass(frozen=True)
class Kind:
    kind: StepKind
    source: str
    target: str


class Classifier:
    """Path -> step kind for the sandbox's own routes and the in-process IdP's."""

    def __init__(
        self, *, mode: str, mcp_path: str = "/mcp", idp_prefix: str | None = None, upstream_client_id: str = ""
    ) -> None:
        self.mode = mode
        self.mcp_path = mcp_path.rstrip("/")
        self.mcp_paths = frozenset({self.mcp_path, self.mcp_path + "/"})
        self.idp_prefix = idp_prefix.rstrip("/") if idp_prefix else None
        self.upstream_client_id = upstream_client_id

    def traced(self, path: str) -> bool:
        """Cheap first test, run for every request."""
        if path.startswith(self.mcp_path):
            return path in self.mcp_paths
        return not (path.startswith("/sandbox/") or path in ("/", "/healthz", "/favicon.ico"))

    def is_mcp(self, path: str) -> bool:
        return path in self.mcp_paths

    def is_idp(self, path: str) -> bool:
        return self.idp_prefix is not None and path.startswith(self.idp_prefix)

    def wants_html(self, path: str) -> bool:
        """IdP pages whose form action carries the login's session_code."""
        return self.is_idp(path) and ("/protocol/openid-connect/auth" in path or "/login-actions/" in path)

    def classify(self, hop: Hop) -> Kind | None:
        path = hop.path
        if self.is_mcp(path):
            return mcp_kind(hop.status)
        if self.is_idp(path):
            return self._idp(hop, path[len(self.idp_prefix or "") :])
        if path.startswith("/.well-known/oauth-protected-resource"):
            return Kind("prm_discovery", "client", "proxy")
        if path.startswith("/.well-known/oauth-authorization-server") or path.startswith(
            "/.well-known/openid-configuration"
        ):
            return Kind("as_metadata", "client", "proxy")
        if path == "/consent":
            return Kind("consent_decided" if hop.method == "POST" else "consent_shown", "browser", "proxy")
        if path == "/token":
            return token_kind(hop, "client", "proxy")
        return PROXY_ROUTES.get(path)

    def _idp(self, hop: Hop, tail: str) -> Kind | None:
        """``tail``: the path after ``/realms/<name>``."""
        from_proxy = bool(self.upstream_client_id) and hop.caller_client_id == self.upstream_client_id
        caller = "proxy" if from_proxy else "client"
        if tail.startswith("/.well-known/"):
            return (
                Kind("as_metadata", "client", "idp")
                if self.mode == "native-dcr"
                else Kind("upstream_discovery", "proxy", "idp")
            )
        if tail == "/protocol/openid-connect/token":
            return token_kind(hop, caller, "idp")
        if tail == "/protocol/openid-connect/revoke":
            return Kind("upstream_revocation" if from_proxy else "revocation", caller, "idp")
        if tail == "/protocol/openid-connect/userinfo":
            return Kind("userinfo", caller, "idp")
        if tail.startswith("/clients-registrations/"):
            return Kind("registration", "client", "idp")
        return IDP_ROUTES.get(tail)


# Kinds are frozen: one of each serves every MCP call.
MCP_CALL = Kind("mcp_call", "client", "proxy")
MCP_REFUSED = {401: Kind("unauthorized", "client", "proxy"), 403: Kind("step_up", "client", "proxy")}


def mcp_kind(status: int | None) -> Kind:
    """An MCP request's kind by its answer: a call, or the refusal that starts (or steps up) an authorization."""
    return MCP_REFUSED.get(status or 0, MCP_CALL)


PROXY_ROUTES = {
    "/register": Kind("registration", "client", "proxy"),
    "/authorize": Kind("authorize", "browser", "proxy"),
    "/auth/callback": Kind("callback", "browser", "proxy"),
    "/revoke": Kind("revocation", "client", "proxy"),
}
IDP_ROUTES = {
    "/protocol/openid-connect/auth": Kind("idp_authorize", "browser", "idp"),
    "/login-actions/authenticate": Kind("idp_login", "browser", "idp"),
    "/login-actions/consent": Kind("idp_consent", "browser", "idp"),
    "/protocol/openid-connect/certs": Kind("jwks", "proxy", "idp"),
}


def token_kind(hop: Hop, source: str, target: str) -> Kind:
    """A token-endpoint call by its grant; the proxy's own calls upstream are the upstream_* kinds."""
    refresh = hop.params.get("grant_type") == "refresh_token"
    if source == "proxy":
        return Kind("upstream_refresh" if refresh else "upstream_token_exchange", source, target)
    return Kind("refresh" if refresh else "token_exchange", source, target)
