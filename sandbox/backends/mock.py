"""The embedded mock IdP as a backend: in-process, mounted at ``/idp``."""

from __future__ import annotations

from pathlib import Path

from starlette.types import ASGIApp

import mock_idp
from mock_idp.idp import IdentityProvider
from mock_idp.metadata import openid_configuration
from mock_idp.storage import StoreError
from sandbox.backends import BackendError, Upstream
from sandbox.served_realm import RealmFile

MOUNT_PATH = "/idp"


class MockBackend:
    name = "mock"

    def __init__(self, realm: RealmFile, *, base_url: str, state_dir: Path, store: str | None = None) -> None:
        """``store``: a ``redis://`` URL shares the IdP's state with every sandbox given it
        (replicas); None keeps it in ``state_dir``. Raises BackendError for an unusable store."""
        self.realm_url = f"{base_url}{MOUNT_PATH}/realms/{realm.model.name}"
        try:
            app = mock_idp.create_app(
                realm.model, issuer_base=f"{base_url}{MOUNT_PATH}", state_dir=state_dir, store=store
            )
        except StoreError as exc:
            raise BackendError(str(exc)) from None
        self.app: ASGIApp = app
        self._idp: IdentityProvider = app.state.idp
        self.mount: tuple[str, ASGIApp] | None = (MOUNT_PATH, self.app)

    def start(self) -> Upstream:
        # The document the IdP's discovery route serves, built by the same function: asking it
        # over in-process HTTP instead took an event loop in a thread and httpx's import (issue 17).
        return Upstream(realm_url=self.realm_url, discovery=openid_configuration(self._idp))

    def stop(self) -> None:
        pass
