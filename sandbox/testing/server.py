"""Run a sandbox inside the test process, on a real loopback port, in a background thread."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

import uvicorn
from fastmcp import FastMCP
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from starlette.applications import Starlette

from sandbox.app import Sandbox, create_app

# Re-exported: the tests and helpers take their free ports from here, one definition for all.
from sandbox.backends.keycloak.ports import free_port as free_port
from sandbox.settings import DEFAULT_REALM_FILE, SandboxSettings

if TYPE_CHECKING:  # the launchers are imported when a Keycloak is wanted: a mock stack never loads them
    from sandbox.backends.keycloak.base import KeycloakLauncher


class IsolatedSettings(SandboxSettings):
    """Settings from the arguments alone: a developer's ``SANDBOX_*`` variables must not
    leak into a test run (``SANDBOX_HOST`` would break every URL the test computed)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def clean_environment() -> dict[str, str]:
    """This process's environment without ``SANDBOX_*`` settings, for a CLI under test."""
    return {key: value for key, value in os.environ.items() if not key.startswith("SANDBOX_")}


def shared_keycloak_launcher(
    base_urls: list[str], directory: Path, *, realm_file: Path = DEFAULT_REALM_FILE
) -> KeycloakLauncher:
    """One real Keycloak for several test sandboxes, not started yet: its realm lists each one's
    callback and audience, so their ports must be known before it starts.

    How it runs follows the CLI's SANDBOX_KEYCLOAK_LAUNCHER and SANDBOX_KEYCLOAK_NETWORK, read
    here so the project's own suites (which otherwise ignore SANDBOX_*) follow them too: they
    choose how Keycloak runs, never what is tested (`make test-keycloak KEYCLOAK_LAUNCHER=container`).
    """
    from sandbox.backends.keycloak import choose_launcher
    from sandbox.backends.keycloak.container import DEFAULT_NETWORK
    from sandbox.served_realm import realm_for_base_urls

    expanded = directory / "sandbox-realm.json"
    expanded.write_text(json.dumps(realm_for_base_urls(realm_file, base_urls)))
    return choose_launcher(
        expanded,
        port=free_port(),
        management_port=free_port(),
        mode=os.environ.get("SANDBOX_KEYCLOAK_LAUNCHER") or "auto",  # type: ignore[arg-type]
        network=os.environ.get("SANDBOX_KEYCLOAK_NETWORK") or DEFAULT_NETWORK,
        progress=_keycloak_progress,
    )


@contextmanager
def shared_keycloak(base_urls: list[str], directory: Path, *, realm_file: Path = DEFAULT_REALM_FILE) -> Iterator[str]:
    """shared_keycloak_launcher(), started; yields Keycloak's base URL."""
    with shared_keycloak_launcher(base_urls, directory, realm_file=realm_file) as keycloak:
        yield keycloak.base_url


def _keycloak_progress(message: str) -> None:
    # Shown with -s, and in a failing run's captured output: which launcher ran, and how long it took.
    print(f"keycloak: {message}", flush=True)


class RunningSandbox:
    def __init__(self, app: Starlette, server: uvicorn.Server) -> None:
        self.app = app
        self.server = server

    @property
    def sandbox(self) -> Sandbox:
        return cast(Sandbox, self.app.state.sandbox)

    @property
    def settings(self) -> SandboxSettings:
        return self.sandbox.settings

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    @property
    def mcp_url(self) -> str:
        return self.settings.mcp_url


class _SignallingServer(uvicorn.Server):
    """uvicorn, setting ``serving`` once it listens: the caller wakes then, not at its next poll."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.serving = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.serving.set()


@contextmanager
def serving(config: uvicorn.Config, *, startup_timeout: float = 60.0) -> Iterator[uvicorn.Server]:
    """Run ``config``'s app in a background thread until the block ends."""
    server = _SignallingServer(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn:{config.port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    # Woken by the event as soon as uvicorn serves; the timeout only paces the checks below.
    while not server.serving.wait(0.05):
        if not thread.is_alive():
            raise RuntimeError(f"server on port {config.port} stopped during start-up")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"server on port {config.port} not ready after {startup_timeout} s")
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def running_sandbox(
    settings: SandboxSettings, *, server: FastMCP | None = None, startup_timeout: float = 60.0
) -> Iterator[RunningSandbox]:
    """``server``: your own FastMCP server behind the proxy instead of the sample tools."""
    app = create_app(settings, server=server)
    # ws="none" as in the CLI: no WebSocket here, and offering it imports the websockets library.
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on", ws="none")
    with serving(config, startup_timeout=startup_timeout) as uvicorn_server:
        yield RunningSandbox(app, uvicorn_server)
