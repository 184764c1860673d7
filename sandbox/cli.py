"""``python -m sandbox``: start the stack, or say in one line why it cannot start."""

from __future__ import annotations

import asyncio
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

from mock_idp import Realm, gc_pause
from mock_idp.sockets import bind_listening_socket
from mock_idp.uvicorn_server import StoppableServer
from sandbox.cli_options import INIT_REALM_FILE, PROG, OneLineParser, StartupError, build_parser, parse_args
from sandbox.logs import ShutdownCuts, configure_logging
from sandbox.redis_store import REDIS_SCHEMES, StoreUnavailableError, redacted
from sandbox.settings import DEFAULT_REALM_FILE, SandboxSettings, unknown_variables

if TYPE_CHECKING:
    # Imported when the app is built, not at start-up: `--help` and errors stay quick.
    from starlette.applications import Starlette

log = logging.getLogger("sandbox")


# How long a SIGTERM waits for open responses. Event streams (an MCP client's GET stream;
# the trace page's, renewed every two minutes) do not end by themselves: unbounded, uvicorn
# waits for them, the app's shutdown never runs, and Keycloak runs on until we are killed.
GRACEFUL_SHUTDOWN_SECONDS = 5


def init(argv: list[str], prog: str) -> int:
    """``init``: the default realm, copied here to edit; never over a file that exists."""
    parser = OneLineParser(prog=f"{prog} init", description=f"Write the default realm file to ./{INIT_REALM_FILE}.")
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
                f"port {port} on {address} is already in use; choose another with --port or SANDBOX_PORT"
            ) from None
        # The address bound, not --host (the name in URLs): "localhost" was named for a bad --listen-address.
        raise StartupError(f"cannot listen on {address}:{port} (--listen-address): {exc.strerror}") from None


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
            *([f"  Replica      : listening on {settings.host}:{settings.port}"] if settings.public_url else []),
            *([f"  Store        : {redacted(settings.store)}"] if settings.store.startswith(REDIS_SCHEMES) else []),
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
        gc_pause.resume()  # start-up's objects frozen, collections back for what requests make
        print(
            banner(settings, sandbox.realm.model, sandbox.upstream.realm_url, time.monotonic() - started, upstream),
            flush=True,
        )

    try:
        _AnnouncingServer(server_config(app, settings), ready).run(sockets=[sock])
    finally:
        gc_pause.resume()  # a start-up that failed in uvicorn or the lifespan
        sandbox.backend.stop()
    return 0


def server_config(app: Starlette, settings: SandboxSettings) -> uvicorn.Config:
    """uvicorn's settings for the sandbox.

    log_config=None: uvicorn's records go through configure_logging's format, not its own.
    ws="none": nothing here speaks WebSocket (MCP is HTTP and SSE), and uvicorn's default
    imports the websockets library during start-up to offer it (issue 17).
    http: the mock IdP's httptools protocol that writes a response's head and body in one
    syscall (mock_idp/protocol.py); uvicorn's two writes were ~5% of an MCP call's server CPU.
    """
    from mock_idp.protocol import OneWritePerResponse

    return uvicorn.Config(
        app,
        http=OneWritePerResponse,
        log_level=settings.log_level,
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        ws="none",
    )


class _AnnouncingServer(StoppableServer):
    """uvicorn, printing the "ready" banner once it serves the socket, not before its
    start-up (the app's lifespan) has even run."""

    def __init__(self, config: uvicorn.Config, ready: Callable[[], None]) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:  # not for a Ctrl-C that came during start-up
            self.ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # From here on, a cancelled response is the shutdown's own doing, not an error.
        logging.getLogger("uvicorn.error").addFilter(ShutdownCuts())
        await super().shutdown(sockets=sockets)
        if self.force_exit:
            await self._stop_at_once()

    async def _stop_at_once(self) -> None:
        """A second Ctrl-C while open streams hold the shutdown up.

        uvicorn then stops waiting and skips the app's shutdown, and asyncio.run cancels what
        is left, the app's lifespan included (a traceback). Here the open responses are cut
        first, and the app's shutdown still runs (it stops an upstream stdio server and closes
        the IdP client), bounded."""
        cut = [task for task in self.server_state.tasks if not task.done()]
        for task in cut:
            task.cancel()
        await asyncio.gather(*cut, return_exceptions=True)
        log.info(f"stopping at once: {len(cut)} open response(s) cut")
        try:
            await asyncio.wait_for(self.lifespan.shutdown(), GRACEFUL_SHUTDOWN_SECONDS)
        except TimeoutError:
            log.warning(f"the app's shutdown took over {GRACEFUL_SHUTDOWN_SECONDS} s; stopped without it")


def build(settings: SandboxSettings) -> Starlette:
    from mock_idp import RealmError
    from sandbox.app import create_app
    from sandbox.backends import BackendError
    from sandbox.serverspec import ServerSpecError
    from sandbox.state import StateInUseError, StateSecretError
    from sandbox.tls import TrustAnchorError
    from sandbox.trust_store import TrustStoreError
    from sandbox.upstream.errors import UpstreamError

    try:
        return create_app(settings)
    except (
        RealmError,
        BackendError,
        ServerSpecError,
        TrustAnchorError,
        UpstreamError,
        StoreUnavailableError,
        StateSecretError,
        StateInUseError,
        TrustStoreError,
    ) as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:  # state files, realm copies: name the file and the cause
        raise StartupError(f"{exc.filename or 'file'}: {exc.strerror or exc}") from None
