"""Pick the identity backend the settings ask for."""

from __future__ import annotations

from sandbox.backends import Backend
from sandbox.realm import RealmFile
from sandbox.settings import SandboxSettings
from sandbox.state import StateDir


def create_backend(settings: SandboxSettings, realm: RealmFile, state: StateDir) -> Backend:
    if settings.backend == "mock":
        from sandbox.backends.mock import MockBackend

        return MockBackend(realm, base_url=settings.base_url, state_dir=state.mock_idp)
    from sandbox.backends.keycloak.backend import KeycloakBackend

    return KeycloakBackend(settings, realm, state.root / "keycloak")
