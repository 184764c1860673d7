"""A real Keycloak as the sandbox's backend: launched from the realm file, or one already running."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
from starlette.types import ASGIApp

from sandbox.backends import BackendError, Upstream
from sandbox.backends.keycloak.base import KeycloakLauncher, KeycloakStartError
from sandbox.backends.keycloak.choose import choose_launcher
from sandbox.backends.keycloak.database import PostgresDatabase
from sandbox.served_realm import RealmFile
from sandbox.settings import SandboxSettings


class KeycloakBackend:
    name = "keycloak"
    # Keycloak runs beside the sandbox, never inside it.
    mount: tuple[str, ASGIApp] | None = None

    def __init__(self, settings: SandboxSettings, realm: RealmFile, state_dir: Path) -> None:
        self.settings = settings
        self.realm = realm
        self.state_dir = state_dir
        self.launcher: KeycloakLauncher | None = None

    def start(self) -> Upstream:
        if self.settings.keycloak_url:
            return self._attach(self.settings.keycloak_url.rstrip("/"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Keycloak imports a file; this one carries the URLs rewritten for the sandbox's port.
        realm_file = self.realm.write(self.state_dir / f"{self.realm.model.name}-realm.json")
        try:
            self.launcher = choose_launcher(
                realm_file,
                port=self.settings.keycloak_port,
                management_port=self.settings.keycloak_management_port,
                mode=self.settings.keycloak_launcher,
                keycloak_home=self.settings.keycloak_home,
                keep_state=self.settings.keycloak_keep_state,
                database=PostgresDatabase.from_url(self.settings.keycloak_db) if self.settings.keycloak_db else None,
                ready_timeout=self.settings.keycloak_ready_timeout,
                progress=_progress,
                network=self.settings.keycloak_network,
            )
            info = self.launcher.start()
        except KeycloakStartError as exc:
            self.stop()
            raise BackendError(str(exc)) from None
        return Upstream(realm_url=info.realm_url)

    def stop(self) -> None:
        if self.launcher is not None:
            self.launcher.stop()
            self.launcher = None

    def _attach(self, base_url: str) -> Upstream:
        upstream = Upstream(realm_url=f"{base_url}/realms/{self.realm.model.name}")
        try:
            response = httpx.get(upstream.discovery_url, timeout=10)
        except httpx.HTTPError as exc:
            raise BackendError(f"Keycloak at {base_url} is not reachable: {exc}") from None
        if response.status_code != 200:
            raise BackendError(
                f"Keycloak at {base_url} has no realm {self.realm.model.name!r} "
                f"(HTTP {response.status_code} from {upstream.discovery_url}); import {self.realm.path} first"
            )
        return upstream


# The launcher's phases, in the one log format the CLI's other records use.
_log = logging.getLogger("sandbox.keycloak")


def _progress(message: str) -> None:
    _log.info(message)
