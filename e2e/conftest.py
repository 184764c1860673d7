"""E2E fixtures beside the plugin's: the suite's main sandbox is the plugin's ``sandbox`` and its
backend the plugin's ``--sandbox-backend``; here are the other named sandboxes (short-lived tokens,
restarts, upstreams), the session's Keycloak, and ways to sign in as a demo user."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sandbox.backends.keycloak.base import KeycloakInfo, KeycloakLauncher
from sandbox.settings import SandboxSettings
from sandbox.testing.artifacts import chromium_page
from sandbox.testing.headless import HeadlessBrowser
from sandbox.testing.keycloak_session import session_keycloak
from sandbox.testing.node import NodeMissing
from sandbox.testing.options import sandbox_backend
from sandbox.testing.server import IsolatedSettings, RunningSandbox, free_port, running_sandbox
from sandbox.testing.upstreams import NodeUpstream, everything_http

if TYPE_CHECKING:
    from playwright.async_api import Page

    from sandbox.testing.pages import PageTrail

USERS = {"alice": ("alice", "alice"), "bob": ("bob", "bob")}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fidelity-record",
        action="store_true",
        help="test_fidelity.py: rewrite Keycloak's recorded answers from the live Keycloak",
    )
    parser.addoption(
        "--fidelity-keycloak-url",
        default=None,
        help="test_fidelity.py: compare with this running Keycloak (realm imported) instead of booting one",
    )
    parser.addoption(
        "--fidelity-sandbox-url",
        default="http://localhost:8000",
        help="with --fidelity-keycloak-url: the sandbox whose callback that realm's sandbox-proxy lists",
    )


# Every sandbox of a session has its own port, known up front: a shared Keycloak's realm
# must list each one's callback and audience before it starts.
SANDBOX_NAMES = (
    "short-lived",
    "restart",
    "native-dcr",
    "upstream-echo",
    "upstream-token",
    "upstream-http",
    "upstream-stdio",
    "upstream-faults",
    "upstream-kill",
    "upstream-kill-stdio",
    "upstream-conformance",
)


@pytest.fixture(scope="session")
def sandbox_ports(request: pytest.FixtureRequest) -> dict[str, int]:
    if sandbox_backend(request.config) != "keycloak":
        return {name: free_port() for name in SANDBOX_NAMES}
    # Ports the session's shared Keycloak lists (one Keycloak for e2e/, tests/ and the plugin).
    shared = session_keycloak(request.config)
    return {name: shared.claim_port() or free_port() for name in SANDBOX_NAMES}


@pytest.fixture(scope="session")
def keycloak(request: pytest.FixtureRequest, sandbox_ports: dict[str, int]) -> tuple[KeycloakLauncher, KeycloakInfo]:
    """The session's one real Keycloak (``--sandbox-backend keycloak``): every sandbox and the
    launcher's own tests use it, so a run boots Keycloak once."""
    if sandbox_backend(request.config) != "keycloak":
        pytest.skip("needs --sandbox-backend keycloak")
    from sandbox.backends.keycloak import keycloak_unavailable_reason

    reason = keycloak_unavailable_reason()
    if reason:
        pytest.skip(f"Keycloak backend unavailable: {reason}")
    shared = session_keycloak(request.config)
    if missing := {name for name, port in sandbox_ports.items() if port not in shared.ports}:
        raise RuntimeError(f"e2e sandboxes {sorted(missing)} have no port in the shared realm: raise RESERVED_PORTS")
    return shared.start()


@pytest.fixture(scope="session")
def keycloak_url(request: pytest.FixtureRequest) -> str | None:
    if sandbox_backend(request.config) != "keycloak":
        return None
    _, info = request.getfixturevalue("keycloak")
    return info.base_url


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    ours = [item for item in items if item.path.is_relative_to(here)]
    # On Keycloak every e2e test needs the real one: `-m keycloak` then selects them along with
    # the Keycloak tests under tests/, in one run (`make test-keycloak`) that boots Keycloak once.
    # tryfirst: before -m deselects anything.
    if sandbox_backend(config) == "keycloak":
        for item in ours:
            item.add_marker(pytest.mark.keycloak)
    # A test that stops the shared Keycloak runs after every other.
    stoppers = [item for item in ours if item.get_closest_marker("stops_keycloak")]
    items[:] = [item for item in items if item not in stoppers] + stoppers


def _settings(
    request, ports: dict[str, int], keycloak_url: str | None, name: str, state_dir: Path, **overrides
) -> SandboxSettings:
    return IsolatedSettings(
        backend=sandbox_backend(request.config),
        port=ports[name],
        state_dir=state_dir,
        keycloak_url=keycloak_url,
        **overrides,
    )


@pytest.fixture(scope="session")
def session_sandbox_settings(request: pytest.FixtureRequest, sandbox_ports: dict[str, int], keycloak_url: str | None):
    """``sandbox_settings`` for module- and session-scoped sandboxes (the upstream suites)."""
    return functools.partial(_settings, request, sandbox_ports, keycloak_url)


@pytest.fixture
def sandbox_settings(request: pytest.FixtureRequest, sandbox_ports: dict[str, int], keycloak_url: str | None):
    """``sandbox_settings(name, state_dir, **overrides)``: settings for one of the session's sandboxes."""
    return functools.partial(_settings, request, sandbox_ports, keycloak_url)


@pytest.fixture(scope="session")
def short_lived_sandbox(request, sandbox_ports, keycloak_url, tmp_path_factory) -> Iterator[RunningSandbox]:
    """Proxy-issued access tokens live two seconds, so tests can watch them expire and refresh."""
    state = tmp_path_factory.mktemp("state-short")
    settings = _settings(request, sandbox_ports, keycloak_url, "short-lived", state, access_token_lifetime=2)
    with running_sandbox(settings) as running:
        yield running


@pytest.fixture(scope="module")
def node_upstream(tmp_path_factory) -> Iterator[NodeUpstream]:
    """npm's "everything" server over Streamable HTTP, one per module (a test may kill it)."""
    try:
        with everything_http(tmp_path_factory.mktemp("node") / "everything.log") as upstream:
            yield upstream
    except NodeMissing as exc:
        pytest.fail(str(exc))  # make test installs it: a missing install is a failure, not a skip


@pytest.fixture
def headless_browser():
    def make(user: str = "alice", **kwargs: object) -> HeadlessBrowser:
        username, password = USERS[user]
        return HeadlessBrowser(username, password, **kwargs)

    return make


@pytest.fixture
async def browser_page(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Page, PageTrail]]:
    """A fresh Chromium page; on failure every page the test reached is saved as a PNG (the plugin's hook)."""
    async with chromium_page(request.node, fixture="browser_page") as (page, trail):
        yield page, trail
