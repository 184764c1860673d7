"""Pick the identity backend the settings ask for."""

from __future__ import annotations

from sandbox.backends import Backend
from sandbox.served_realm import RealmFile
from sandbox.settings import SandboxSettings
from sandbox.state import StateDir


def create_backend(settings: SandboxSettings, realm: RealmFile, state: StateDir) -> Backend:
    if settings.backend == "mock":
        from sandbox.backends.mock import MockBackend

        # A shared store (replicas) holds the embedded IdP's state too; file and memory name
        # the proxy's store only, the IdP keeps its own in the state directory.
        shared = settings.store if settings.store.startswith(("redis://", "rediss://")) else None
        return MockBackend(realm, base_url=settings.base_url, state_dir=state.mock_idp, store=shared)
    from sandbox.backends.keycloak.backend import KeycloakBackend

    return KeycloakBackend(settings, realm, state.root / "keycloak")
