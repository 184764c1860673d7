"""What the fuzz and crash tests share: a mock sandbox of their own on a real port, and deep JSON.

Real HTTP on purpose: a response aborted half-way (the server died inside the app after
sending its status) shows only on a real connection, as httpx's RemoteProtocolError.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sandbox.testing.server import IsolatedSettings, RunningSandbox, free_port, running_sandbox

FORM = "application/x-www-form-urlencoded"
REALM = "/idp/realms/sandbox"
OIDC = f"{REALM}/protocol/openid-connect"
DCR = f"{REALM}/clients-registrations/openid-connect"


@contextmanager
def mock_sandbox(state_dir: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(IsolatedSettings(backend="mock", port=free_port(), state_dir=state_dir)) as running:
        yield running


def deep_json(levels: int) -> bytes:
    """An object ``levels`` deep, the shape a DCR or admin body has: {"a":{"a":...}}."""
    return b'{"a":' * levels + b"1" + b"}" * levels
