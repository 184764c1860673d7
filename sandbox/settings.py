"""Sandbox configuration: CLI flags and ``SANDBOX_*`` environment variables, one model."""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sandbox.default_realm import DEFAULT_REALM_FILE as DEFAULT_REALM_FILE

ENV_PREFIX = "SANDBOX_"
# SANDBOX_* variables that are read elsewhere, not settings: they are not misspellings.
OTHER_VARIABLES = frozenset({"SANDBOX_CHROMIUM"})


def default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir("mcp-oauth-sandbox"))


class SandboxSettings(BaseSettings):
    """Everything the stack needs to start; each field is also a ``SANDBOX_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    backend: Literal["mock", "keycloak"] = "mock"
    # One host name everywhere: MCP clients compare the protected resource URL byte
    # for byte, and plain http is only accepted on loopback names.
    host: str = "localhost"
    port: int = Field(default=8000, ge=1, le=65535)
    # The address the server's socket binds; URLs still say `host`. Loopback unless the sandbox
    # runs in a container, where 0.0.0.0 lets the engine forward a port published on the host's
    # loopback (the image sets it).
    listen_address: str = "127.0.0.1"
    realm_file: Path = DEFAULT_REALM_FILE
    # Client id of the confidential upstream client in the realm file.
    upstream_client_id: str = "sandbox-proxy"
    consent: bool = True
    state_dir: Path = Field(default_factory=default_state_dir)
    # "file" keeps registrations and tokens across restarts; "memory" is faster and forgets;
    # "redis://HOST:PORT/DB" shares them between replicas (sandbox/redis_store.py).
    store: str = "file"
    # Replicas behind a load balancer: the URL clients and browsers use (issuer, resource,
    # redirect URIs), while `port` is where this replica listens.
    public_url: str | None = None
    # The 32-byte secret that signs tokens and cookies and keys the store's encryption; every
    # replica must read the same one (default: <state-dir>/proxy-secret.key, made on first start).
    state_secret_file: Path | None = None
    # Lifetime of the tokens the proxy itself issues to MCP clients (None: follow upstream).
    access_token_lifetime: int | None = Field(default=None, ge=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # "proxy": FastMCP's OIDCProxy in front of the IdP. "native-dcr": no proxy; clients
    # register at the IdP's own DCR endpoint (FastMCP's RemoteAuthProvider, as its
    # KeycloakAuthProvider does).
    mode: Literal["proxy", "native-dcr"] = "proxy"
    # Flow trace (/sandbox/trace): record every hop; keep the last trace_history flows.
    trace: bool = True
    trace_history: int = Field(default=50, ge=1, le=10000)
    # Your own FastMCP server to protect instead of the sample tools: "module:attr"
    # (a FastMCP instance or a zero-argument function returning one).
    server: str | None = None
    # Client ID Metadata Documents on loopback HTTPS are fetched when their certificate
    # chains to the sandbox's own CA (<state-dir>/tls/ca.pem) or to this one.
    cimd_ca: Path | None = None
    # Upstream mode (sandbox/upstream/): any MCP server behind the proxy instead of a
    # FastMCP one in-process: a Streamable HTTP URL, or a stdio command the sandbox runs.
    upstream: str | None = None
    upstream_command: str | None = None
    # Identity header rules (NAME=CLAIM, NAME=, OLD:NEW), after those of the TOML file.
    upstream_headers: list[str] = Field(default_factory=list)
    upstream_headers_file: Path | None = None
    # Also send a short-lived JWT minted for the upstream (aud = its URL).
    upstream_token: bool = False
    upstream_timeout: float = Field(default=60.0, gt=0)

    # Keycloak backend. With keycloak_url set the sandbox uses that running Keycloak
    # (whose realm is already imported) instead of launching one.
    keycloak_url: str | None = None
    keycloak_launcher: Literal["auto", "container", "distribution"] = "auto"
    # The container launcher's network: "bridge" (the engine's default, ports published on
    # 127.0.0.1), "host" (no bridge, so no engine firewall rules), or an engine network's name.
    keycloak_network: str = Field(default="bridge", min_length=1)
    keycloak_port: int = Field(default=8080, ge=1, le=65535)
    keycloak_management_port: int = Field(default=9000, ge=1, le=65535)
    keycloak_home: Path | None = None
    keycloak_ready_timeout: float = Field(default=180.0, gt=0)
    # Keep Keycloak's database between runs, so upstream sessions survive a restart.
    keycloak_keep_state: bool = False
    # Keycloak's database on PostgreSQL (postgres://USER:PASS@HOST:PORT/DB) instead of its dev
    # database: realm changes and sessions survive restarts, and the realm is imported only once.
    keycloak_db: str | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _any_case(cls, level: object) -> object:
        return level.lower() if isinstance(level, str) else level

    @field_validator("state_dir", mode="before")
    @classmethod
    def _not_empty(cls, path: object) -> object:
        # Path("") is the working directory: the proxy's secret and keys would land there.
        if isinstance(path, str) and not path.strip():
            raise ValueError("must not be empty (leave it unset for the default)")
        return path

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, host: str) -> str:
        if host not in {"localhost", "127.0.0.1"}:
            raise ValueError("must be 'localhost' or '127.0.0.1' (plain http is only trusted on loopback)")
        return host

    @field_validator("cimd_ca")
    @classmethod
    def _pem_certificate(cls, path: Path | None) -> Path | None:
        # Checked here so a bad file stops start-up in one line, before anything is built.
        if path is not None:
            from sandbox.tls import TrustAnchorError, read_certificates

            try:
                read_certificates(path)
            except TrustAnchorError as error:
                raise ValueError(str(error)) from None
        return path

    @field_validator("keycloak_db")
    @classmethod
    def _postgres_url(cls, url: str | None) -> str | None:
        if url is not None:
            from sandbox.backends.keycloak.database import PostgresDatabase

            PostgresDatabase.from_url(url)  # ValueError names what is wrong, never the password
        return url

    @field_validator("store")
    @classmethod
    def _a_store(cls, store: str) -> str:
        if store in ("file", "memory"):
            return store
        from sandbox.redis_store import check_redis_url

        return check_redis_url(store)

    @field_validator("public_url")
    @classmethod
    def _a_public_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parsed = urlsplit(url.rstrip("/"))
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path or parsed.query:
            raise ValueError(f"{url!r} must be a base URL such as http://localhost:8000 (scheme, host, port; no path)")
        if parsed.scheme == "http" and parsed.hostname not in {"localhost", "127.0.0.1"}:
            raise ValueError(f"{url!r}: plain http is only trusted on localhost or 127.0.0.1; use https")
        return f"{parsed.scheme}://{parsed.netloc}"

    @field_validator("listen_address")
    @classmethod
    def _an_ip_address(cls, address: str) -> str:
        ipaddress.ip_address(address)  # ValueError names the bad value
        return address

    @model_validator(mode="after")
    def _ports_differ(self) -> SandboxSettings:
        if self.backend == "keycloak" and not self.keycloak_url:
            ports = {
                "port": self.port,
                "keycloak_port": self.keycloak_port,
                "keycloak_management_port": self.keycloak_management_port,
            }
            if len(set(ports.values())) < len(ports):
                raise ValueError(f"the sandbox and Keycloak need three different ports, got {ports}")
        return self

    @model_validator(mode="after")
    def _one_keycloak_database(self) -> SandboxSettings:
        if self.keycloak_db and self.keycloak_keep_state:
            raise ValueError("keycloak_db and keycloak_keep_state exclude each other: the database keeps the state")
        if self.keycloak_db and self.keycloak_url:
            raise ValueError("keycloak_db is for a Keycloak the sandbox launches, not one at keycloak_url")
        return self

    @model_validator(mode="after")
    def _one_server(self) -> SandboxSettings:
        given = [name for name in ("server", "upstream", "upstream_command") if getattr(self, name)]
        if len(given) > 1:
            raise ValueError(f"give only one server to protect, got {' and '.join(given)}")
        if self.upstream and not self.upstream.startswith(("http://", "https://")):
            raise ValueError(
                f"upstream {self.upstream!r} must be an http:// or https:// URL of a Streamable HTTP MCP endpoint"
            )
        if self.upstream_token and not self.upstream:
            raise ValueError("upstream_token needs an HTTP upstream (--upstream URL): the token's audience is its URL")
        headers = [name for name in ("upstream_headers", "upstream_headers_file") if getattr(self, name)]
        if headers and not (self.upstream or self.upstream_command):
            # Ignored without a word, they looked applied: the sample tools have no upstream to send them to.
            raise ValueError(f"{headers[0]} needs an upstream (--upstream URL or --upstream-command) to send them to")
        return self

    def ignored_keycloak_settings(self) -> list[str]:
        """Keycloak settings given explicitly while the mock backend runs: they do nothing."""
        if self.backend != "mock":
            return []
        return sorted(name for name in self.model_fields_set if name.startswith("keycloak_"))

    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    @property
    def base_url(self) -> str:
        """What clients and browsers use: ``public_url`` behind a load balancer, else this replica."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One warning per ``SANDBOX_*`` variable no setting reads (pydantic ignores them silently),
    naming the closest setting, so a misspelling is not mistaken for the default."""
    known = {ENV_PREFIX + name.upper() for name in SandboxSettings.model_fields} | OTHER_VARIABLES
    warnings = []
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX) or name.upper() in known:
            continue
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"{name} is not a setting and is ignored{hint}")
    return warnings
