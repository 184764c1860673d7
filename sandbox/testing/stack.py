"""The plugin's running stacks: one sandbox per distinct server, started on first use.

The fixtures in ``sandbox/pytest_plugin.py`` hand these out; everything that starts, shares or
stops a sandbox or its Keycloak lives here, so the plugin stays hooks and fixtures.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from mock_idp import gc_pause
from sandbox.testing.fresh_thread import import_on_fresh_thread

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from sandbox.app import Sandbox
    from sandbox.settings import SandboxSettings
    from sandbox.testing.key_rotation import KeyRotations
    from sandbox.testing.phases import StartupPhases
    from sandbox.testing.server import RunningSandbox


@dataclass
class SandboxStack:
    """A running sandbox as the fixtures expose it."""

    backend: Literal["mock", "keycloak"]
    base_url: str
    mcp_url: str
    realm: str
    realm_url: str
    # Where the realm lives below: python-keycloak's server_url.
    idp_server_url: str
    # Demo users of the realm file: username -> password.
    users: dict[str, str]
    running: RunningSandbox
    # Key rotations through idp, so a sign-in refused inside FastMCP's JWKS window says so.
    key_rotations: KeyRotations
    # username -> password for every user a client may sign in as (users + those created via idp).
    credentials: dict[str, str] = field(default_factory=dict)

    @property
    def admin_url(self) -> str:
        """Keycloak's Admin REST API for the realm (the mock serves a subset of it)."""
        return f"{self.idp_server_url}admin/realms/{self.realm}"

    @property
    def settings(self) -> SandboxSettings:
        return self.running.settings

    @property
    def sandbox(self) -> Sandbox:
        """The application's wiring: its proxy, upstream, trace (as ``RunningSandbox.sandbox``)."""
        return self.running.sandbox


# What a stack and its first sign-in import, nearly all of a first stack's start: FastMCP, the
# MCP SDK and the app (sandbox/app.py through sandbox.testing.server), FastMCP's client.
STACK_MODULES = ("fastmcp", "sandbox.testing.server", "sandbox.testing.headless", "sandbox.testing.key_rotation")


class SandboxStacks:
    """The session's running stacks, one per distinct server, each started on first use.

    Usually there is one. A conftest that overrides ``sandbox_server`` in one directory
    gets its own stack there instead of silently reusing another directory's.
    """

    def __init__(
        self,
        config: pytest.Config,
        settings: dict[str, Any],
        tmp_path_factory: pytest.TempPathFactory,
        phases: StartupPhases,
    ) -> None:
        self.config = config
        self.settings = settings
        self.tmp_path_factory = tmp_path_factory
        self.phases = phases
        self._stacks: dict[int, tuple[FastMCP | None, SandboxStack]] = {}
        self._failed: dict[int, tuple[FastMCP | None, BaseException]] = {}
        self._exit = contextlib.ExitStack()

    def get(self, server: object) -> SandboxStack:
        if not self._stacks and not self._failed:
            # Before resolve_server, which imports FastMCP: the phase counts all of the imports.
            with self.phases.phase("imports (FastMCP, the app)"):
                import_on_fresh_thread(*STACK_MODULES)
        resolved = resolve_server(server)
        found = self._stacks.get(id(resolved))
        if found is None:
            if id(resolved) in self._failed:  # a Keycloak that cannot start is tried once, not per test
                raise self._failed[id(resolved)][1]
            try:
                with self.phases.phase("stack ready"):
                    found = (resolved, self._start(resolved))  # keeps the server alive, so its id stays unique
            except BaseException as exc:
                self._failed[id(resolved)] = (resolved, exc)
                raise
            finally:
                gc_pause.resume()  # the plugin paused it for start-up's imports: frozen now, then collecting
            self._stacks[id(resolved)] = found
        return found[1]

    def close(self) -> None:
        self._exit.close()

    def _start(self, server: FastMCP | None) -> SandboxStack:
        from sandbox.served_realm import read_realm
        from sandbox.testing.key_rotation import KeyRotations
        from sandbox.testing.server import IsolatedSettings, free_port, running_sandbox
        from sandbox.upstream.errors import UpstreamError

        given = dict(self.settings)
        given.setdefault("state_dir", self.tmp_path_factory.mktemp("sandbox-state"))
        shared = self._shared_keycloak_port(given)
        given.setdefault("port", shared or free_port())
        settings = IsolatedSettings(**given)
        if settings.backend == "keycloak" and not settings.keycloak_url:
            with self.phases.phase("keycloak ready"):
                keycloak_url = self._exit.enter_context(
                    stack_keycloak(settings.realm_file, settings.base_url, self.tmp_path_factory, self.config, shared)
                )
            settings = IsolatedSettings(**given, keycloak_url=keycloak_url)
        realm = read_realm(settings.realm_file, settings.base_url).model
        users = {
            user.username: user.password
            for user in realm.user_list
            if user.password and not user.service_account_client_id
        }
        failure = None
        try:
            with self.phases.phase("sandbox serving"):
                running = self._exit.enter_context(running_sandbox(settings, server=server))
        except UpstreamError as exc:
            failure = f"sandbox upstream: {exc}"
        if failure is not None:  # outside the except: failed inside it, pytest printed the cause twice
            pytest.fail(failure, pytrace=False)
        realm_url = running.sandbox.upstream.realm_url
        return SandboxStack(
            backend=settings.backend,
            base_url=settings.base_url,
            mcp_url=settings.mcp_url,
            realm=realm.name,
            realm_url=realm_url,
            idp_server_url=realm_url[: -len(f"realms/{realm.name}")],
            users=dict(users),
            running=running,
            key_rotations=KeyRotations(),
            credentials=dict(users),
        )

    def _shared_keycloak_port(self, given: dict[str, Any]) -> int | None:
        """A port in the session's shared Keycloak realm, when this stack can use that Keycloak."""
        if given.get("backend") != "keycloak" or given.get("keycloak_url") or "port" in given:
            return None
        # Only now: the session's Keycloak imports the launchers, which a mock stack never needs.
        from sandbox.settings import DEFAULT_REALM_FILE
        from sandbox.testing.keycloak_session import default_realm, session_keycloak

        if not default_realm(Path(given.get("realm_file", DEFAULT_REALM_FILE))):
            return None
        return session_keycloak(self.config).claim_port()


def plugin_sandbox(request: pytest.FixtureRequest) -> SandboxStack:
    """The stack the ``sandbox`` fixture gives, for a session- or module-scoped fixture.

    ``sandbox`` itself is per test, so that a directory's conftest overriding ``sandbox_server``
    gets its own stack; a wider fixture asks the session's stacks for the server in its scope.
    """
    stacks: SandboxStacks = request.getfixturevalue("sandbox_stacks")
    return stacks.get(request.getfixturevalue("sandbox_server"))


def resolve_server(server: object) -> FastMCP | None:
    """The ``sandbox_server`` fixture's value as a FastMCP server (None: the sample tools)."""
    from fastmcp import FastMCP

    from sandbox.serverspec import ServerSpecError, load_server

    if isinstance(server, str):
        try:
            server = load_server(server)
        except ServerSpecError as exc:
            raise pytest.UsageError(f"--sandbox-server: {exc}") from None
    if server is not None and not isinstance(server, FastMCP):
        raise pytest.UsageError(f"the sandbox_server fixture gave a {type(server).__name__}, not a FastMCP server")
    return server


@contextlib.contextmanager
def stack_keycloak(
    realm_file: Path,
    base_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    config: pytest.Config,
    shared_port: int | None,
) -> Iterator[str]:
    """A Keycloak for a stack (the mock needs none: it is mounted in the sandbox); yields its URL.

    The session's shared one when the stack claimed a port in its realm (stopped with the
    session), else one of its own; skips in one line where no Keycloak can run.
    """
    from sandbox.backends.keycloak import keycloak_unavailable_reason
    from sandbox.testing.keycloak_session import session_keycloak
    from sandbox.testing.server import shared_keycloak

    # The launcher the session's Keycloak would use (sandbox/testing/server.py), not any launcher.
    reason = keycloak_unavailable_reason(mode=os.environ.get("SANDBOX_KEYCLOAK_LAUNCHER") or "auto")
    if reason:
        pytest.skip(f"Keycloak backend unavailable: {reason}")
    if shared_port is not None:
        yield session_keycloak(config).start()[1].base_url
        return
    with shared_keycloak([base_url], tmp_path_factory.mktemp("keycloak"), realm_file=realm_file) as url:
        yield url
