"""What the robustness tests share: a sandbox on a real port, and a client that sees aborted responses.

Real HTTP on purpose: a response aborted half-way (the server died inside the app after
sending its status) shows only on a real connection, as httpx's RemoteProtocolError.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from sandbox.testing.server import IsolatedSettings, RunningSandbox, free_port, running_sandbox

FORM = "application/x-www-form-urlencoded"
REALM = "/idp/realms/sandbox"
OIDC = f"{REALM}/protocol/openid-connect"
DCR = f"{REALM}/clients-registrations/openid-connect"
ADMIN_USERS = "/idp/admin/realms/sandbox/users"


@contextmanager
def mock_sandbox(state_dir: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(IsolatedSettings(backend="mock", port=free_port(), state_dir=state_dir)) as running:
        yield running


def admin_token(http: httpx.Client) -> str:
    """A master-realm admin token, as python-keycloak gets one (admin-cli, admin/admin)."""
    response = http.post(
        "/idp/realms/master/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"},
    )
    response.raise_for_status()
    return response.json()["access_token"]


def deep_json(levels: int) -> bytes:
    """An object ``levels`` deep, the shape a DCR or admin body has: {"a":{"a":...}}."""
    return b'{"a":' * levels + b"1" + b"}" * levels
