"""The embedded mock IdP as a backend: in-process, mounted at ``/idp``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import anyio.from_thread
import httpx
from starlette.types import ASGIApp

import mock_idp
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
            self.app: ASGIApp = mock_idp.create_app(
                realm.model, issuer_base=f"{base_url}{MOUNT_PATH}", state_dir=state_dir, store=store
            )
        except StoreError as exc:
            raise BackendError(str(exc)) from None
        self.mount: tuple[str, ASGIApp] | None = (MOUNT_PATH, self.app)
        self._realm_path = f"/realms/{realm.model.name}"

    def start(self) -> Upstream:
        discovery = _get_json_in_process(self.app, f"{self._realm_path}/.well-known/openid-configuration")
        return Upstream(realm_url=self.realm_url, discovery=discovery)

    def stop(self) -> None:
        pass


def _get_json_in_process(app: ASGIApp, path: str) -> dict[str, Any]:
    """GET from an ASGI app without a socket; works whether or not an event loop is running."""

    async def fetch() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://in-process") as client:
            response = await client.get(path)
            response.raise_for_status()
            return cast(dict[str, Any], response.json())

    with anyio.from_thread.start_blocking_portal() as portal:
        return portal.call(fetch)
