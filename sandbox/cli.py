"""``python -m sandbox``: start the stack, or say in one line why it cannot start."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from pydantic import ValidationError

from mock_idp import Realm
from mock_idp.sockets import bind_listening_socket
from sandbox.logs import configure_logging
from sandbox.settings import DEFAULT_REALM_FILE, SandboxSettings, unknown_variables

if TYPE_CHECKING:
    # Imported when the app is built, not at start-up: `--help` and errors stay quick.
    from fastapi import FastAPI

log = logging.getLogger("sandbox")


# The console script's name; ``python -m sandbox`` passes its own spelling.
PROG = "mcp-oauth-sandbox"
# What ``init`` writes into the current directory.
INIT_REALM_FILE = "sandbox-realm.json"

# How long a SIGTERM waits for open responses. Event streams (an MCP client's GET stream;
# the trace page's, renewed every two minutes) do not end by themselves: unbounded, uvicorn
# waits for them, the app's shutdown never runs, and Keycloak runs on until we are killed.
GRACEFUL_SHUTDOWN_SECONDS = 5


class StartupError(Exception):
    """A reason the sandbox cannot start, phrased for one line on stderr."""


class _OneLineParser(argparse.ArgumentParser):
    # argparse would print the whole usage first; one line names the cause.
    def error(self, message: str) -> None:  # type: ignore[override]
        raise StartupError(f"{message} (see --help)")


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog=prog,
        description="MCP OAuth sandbox: an MCP server behind FastMCP's OAuth proxy, with its own IdP.",
        epilog=f"Every option is also a SANDBOX_<NAME> environment variable; flags win. "
        f"'{prog} init' writes the default realm to ./{INIT_REALM_FILE} for editing.",
    )
    parser.add_argument("--backend", choices=["mock", "keycloak"], help="identity backend (default: mock)")
    parser.add_argument("--host", help="localhost (default) or 127.0.0.1")
    parser.add_argument(
        "--listen-address",
        metavar="IP",
        help="address the server binds (default: 127.0.0.1; 0.0.0.0 in the container image)",
    )
    parser.add_argument("--port", type=int, help="port to serve on (default: 8000)")
    parser.add_argument(
        "--realm",
        dest="realm_file",
        type=Path,
        help="Keycloak realm JSON (default: the sandbox realm shipped in the package)",
    )
    parser.add_argument(
        "--consent",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the proxy's consent screen (default: on)",
    )
    parser.add_argument("--state-dir", type=Path, help="where tokens, registrations and keys are kept")
    parser.add_argument(
        "--store", choices=["file", "memory"], help="proxy token store (default: file, survives restarts)"
    )
    parser.add_argument("--log-level", type=str.lower, choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--mode",
        choices=["proxy", "native-dcr"],
        help="proxy: FastMCP's OAuth proxy (default); native-dcr: clients register at the IdP directly",
    )
    parser.add_argument(
        "--trace",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="record every hop of each flow at /sandbox/trace (default: on)",
    )
    parser.add_argument("--trace-history", type=int, help="flows the trace keeps, oldest dropped first (default: 50)")
    parser.add_argument(
        "--server",
        metavar="MODULE:ATTR",
        help="your own FastMCP server to protect instead of the sample tools (e.g. mypkg.server:mcp)",
    )
    parser.add_argument(
        "--cimd-ca",
        type=Path,
        metavar="FILE",
        help="also trust this CA for client metadata documents on loopback HTTPS (default: only <state-dir>/tls/ca.pem)",
    )
    upstream = parser.add_argument_group("Upstream mode (any MCP server behind the proxy)")
    upstream.add_argument(
        "--upstream", metavar="URL", help="a Streamable HTTP MCP server to protect (e.g. http://localhost:3001/mcp)"
    )
    upstream.add_argument(
        "--upstream-command",
        metavar="'CMD ARGS'",
        help="a stdio MCP server to start and protect (e.g. 'npx -y @modelcontextprotocol/server-everything')",
    )
    upstream.add_argument(
        "--upstream-header",
        dest="upstream_headers",
        action="append",
        metavar="RULE",
        help="identity header rule, repeatable: NAME=CLAIM sets, NAME= removes, OLD:NEW renames",
    )
    upstream.add_argument(
        "--upstream-headers-file", type=Path, metavar="FILE", help="TOML file of header rules ([headers], [rename])"
    )
    upstream.add_argument(
        "--upstream-token",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also send the upstream a short-lived JWT minted for it (default: off)",
    )
    upstream.add_argument("--upstream-timeout", type=float, help="seconds to wait for the upstream (default: 60)")
    keycloak = parser.add_argument_group("Keycloak backend")
    keycloak.add_argument(
        "--keycloak-url", help="use this running Keycloak (realm already imported) instead of launching one"
    )
    keycloak.add_argument(
        "--keycloak-launcher",
        choices=["auto", "container", "distribution"],
        help="how to launch Keycloak (default: auto: Docker if it answers, else the distribution)",
    )
    keycloak.add_argument(
        "--keycloak-network",
        metavar="NETWORK",
        help="the container launcher's network: bridge (default), host, or an engine network's name",
    )
    keycloak.add_argument("--keycloak-port", type=int, help="Keycloak HTTP port (default: 8080)")
    keycloak.add_argument("--keycloak-management-port", type=int, help="Keycloak health port (default: 9000)")
    keycloak.add_argument(
        "--keycloak-home",
        type=Path,
        help="a Keycloak distribution to run (default: KEYCLOAK_HOME or a cached download)",
    )
    keycloak.add_argument("--keycloak-ready-timeout", type=float, help="seconds to wait for Keycloak (default: 180)")
    keycloak.add_argument(
        "--keycloak-keep-state",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep Keycloak's database between runs (default: fresh each run)",
    )
    return parser


def parse_args(argv: list[str] | None, prog: str = PROG) -> dict[str, Any]:
    return {key: value for key, value in vars(build_parser(prog).parse_args(argv)).items() if value is not None}


def init(argv: list[str], prog: str) -> int:
    """``init``: the default realm, copied here to edit; never over a file that exists."""
    parser = _OneLineParser(prog=f"{prog} init", description=f"Write the default realm file to ./{INIT_REALM_FILE}.")
    parser.parse_args(argv)
    target = Path(INIT_REALM_FILE)
    try:
        with target.open("x", encoding="utf-8") as out, DEFAULT_REALM_FILE.open(encoding="utf-8") as default:
            shutil.copyfileobj(default, out)
    except FileExistsError:
        raise StartupError(f"{target.resolve()} already exists; edit it, or remove it to start again") from None
    except OSError as exc:
        raise StartupError(f"cannot write {target.resolve()}: {exc.strerror or exc}") from None
    print(f"wrote {target.resolve()}; edit it, then: {prog} --realm {INIT_REALM_FILE}")
    return 0


def load_settings(overrides: dict[str, Any]) -> SandboxSettings:
    try:
        return SandboxSettings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        if not name:  # a rule across several settings: its message names them
            raise StartupError(f"invalid settings: {first['msg'].removeprefix('Value error, ')}") from None
        flags = {action.dest: action.option_strings[-1] for action in build_parser()._actions if action.option_strings}
        where = f"flag {flags[name]} or " if name in flags else ""
        raise StartupError(f"invalid setting {name} ({where}SANDBOX_{name.upper()}): {first['msg']}") from None


def listen(host: str, port: int, address: str) -> socket.socket:
    """The server's socket, bound before anything starts, so a busy port stops nothing half-way.

    The default address, 127.0.0.1: both loopback spellings resolve there, and binding IPv4
    keeps "localhost" from landing on ::1 only."""
    try:
        return bind_listening_socket(address, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use; choose another with --port or SANDBOX_PORT"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def ensure_state_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".writable"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartupError(
            f"state directory {path} is not usable: {exc.strerror or exc} (set --state-dir or SANDBOX_STATE_DIR)"
        ) from None


def banner(settings: SandboxSettings, realm: Realm, realm_url: str, elapsed: float, upstream: str | None = None) -> str:
    users = ", ".join(f"{user.username}/{user.password}" for user in realm.users.values()) or "none"
    # The CA is the proxy's: native-dcr has no proxy fetching client metadata documents.
    ca = [f"  CIMD CA      : {settings.tls_dir / 'ca.pem'} (trusted for client metadata documents on loopback HTTPS)"]
    return "\n".join(
        [
            f"MCP OAuth sandbox is ready in {elapsed:.1f} s (Ctrl-C to stop)",
            f"  MCP endpoint : {settings.mcp_url}",
            f"  Landing page : {settings.base_url}/",
            f"  Flow trace   : {settings.base_url}/sandbox/trace ({settings.mode} mode)",
            f"  Backend      : {settings.backend} ({realm_url})",
            *([f"  Upstream     : {upstream}"] if upstream else []),
            f"  Demo users   : {users}",
            f"  State        : {settings.state_dir}",
        ]
        + (ca if settings.mode == "proxy" else [])
    )


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """The CLI. Ctrl-C is left to the caller (``sandbox.__main__``), which ends quietly."""
    started = time.monotonic()
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["init"]:
            return init(argv[1:], prog)
        overrides = parse_args(argv, prog)
        configure_logging("info")  # before the settings: a misspelt one may be why they fail
        for warning in unknown_variables(os.environ):
            log.warning(warning)
        settings = load_settings(overrides)
        configure_logging(settings.log_level)
        if ignored := settings.ignored_keycloak_settings():
            flags = ", ".join("--" + name.replace("_", "-") for name in ignored)
            log.warning(f"{flags} ignored: the backend is mock (use --backend keycloak)")
        ensure_state_dir(settings.state_dir)
        sock = listen(settings.host, settings.port, settings.listen_address)
    except StartupError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        app = build(settings)
    except StartupError as exc:
        sock.close()
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    sandbox = app.state.sandbox
    mode = app.state.upstream_mode
    upstream = f"{mode.target.url or mode.target.command} ({mode.answered_as})" if mode else None

    def ready() -> None:
        print(
            banner(settings, sandbox.realm.model, sandbox.upstream.realm_url, time.monotonic() - started, upstream),
            flush=True,
        )

    # log_config=None: uvicorn's records go through configure_logging's format, not its own.
    config = uvicorn.Config(
        app, log_level=settings.log_level, log_config=None, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS
    )
    try:
        _AnnouncingServer(config, ready).run(sockets=[sock])
    finally:
        sandbox.backend.stop()
    return 0


class _AnnouncingServer(uvicorn.Server):
    """uvicorn, printing the "ready" banner once it serves the socket, not before its
    start-up (the app's lifespan) has even run."""

    def __init__(self, config: uvicorn.Config, ready: Callable[[], None]) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.ready()


def build(settings: SandboxSettings) -> FastAPI:
    from mock_idp import RealmError
    from sandbox.app import create_app
    from sandbox.backends import BackendError
    from sandbox.serverspec import ServerSpecError
    from sandbox.tls import TrustAnchorError
    from sandbox.upstream.server import UpstreamError

    try:
        return create_app(settings)
    except (RealmError, BackendError, ServerSpecError, TrustAnchorError, UpstreamError) as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:  # state files, realm copies: name the file and the cause
        raise StartupError(f"{exc.filename or 'file'}: {exc.strerror or exc}") from None
