"""pytest plugin: test your own MCP server behind FastMCP's OAuth proxy, end to end.

Installed with the distribution (entry point ``pytest11``). Options, each also an ini
key and an environment variable (command line > environment > ini > default):

    --sandbox-backend mock|keycloak   SANDBOX_BACKEND     sandbox_backend   (default: mock)
    --sandbox-server module:attr      SANDBOX_SERVER      sandbox_server    (default: the sample tools)
    --sandbox-realm FILE              SANDBOX_REALM_FILE  sandbox_realm     (default: the packaged realm)
    --sandbox-port N                  SANDBOX_PORT        sandbox_port      (default: a free port)
    --sandbox-upstream URL            SANDBOX_UPSTREAM    sandbox_upstream  (any Streamable HTTP MCP server instead)
    --sandbox-upstream-command CMD    SANDBOX_UPSTREAM_COMMAND  sandbox_upstream_command  (a stdio one)

Every other ``SANDBOX_*`` setting of the CLI applies too; the plugin's own defaults (a free
port, a temporary state directory, the memory store, log level warning) give way to them.
Async tests that use these fixtures run under pytest-asyncio without any configuration
in your project: the plugin marks them, unless they carry an asyncio/anyio/trio mark.
Under ``-v`` the plugin reports each start-up phase of a stack with its time.

Fixtures:

    sandbox       the running stack (base_url, mcp_url, realm_url, backend, users, admin_url), started
                  once per session (and per server, if a conftest overrides sandbox_server)
    sandbox_server  session: the FastMCP server to wrap (override it in a conftest to build one in code)
    mcp_client    mcp_client("bob") -> an unconnected fastmcp.Client signed in as bob on first use
                  (registration="dcr"|"cimd", scopes=[...])
    idp           the control API (sandbox.idp_control.IdpControl), reset after each test
    browser_login Chromium with the consent and login page objects (needs Playwright)

Marker: ``@pytest.mark.mock_only`` skips a test on Keycloak (for the mock-only controls).
Stack management lives in ``sandbox/testing/`` (options, stack, clients, artifacts).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pluggy
import pytest

from mock_idp import gc_pause
from sandbox.testing.artifacts import chromium_page, remember_report
from sandbox.testing.clients import SignInClients, UnknownSandboxUser
from sandbox.testing.options import (
    BACKENDS,
    add_options,
    configured_server,
    sandbox_backend,
    sandbox_server_spec,
    sandbox_settings,
)
from sandbox.testing.phases import terminal_phases
from sandbox.testing.stack import SandboxStack, SandboxStacks

if TYPE_CHECKING:
    from sandbox.idp_control import IdpControl
    from sandbox.testing.browser import BrowserLogin

try:  # async fixtures work in pytest-asyncio's strict mode too
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - the browser fixture then needs another async plugin
    _async_fixture = pytest.fixture  # type: ignore[assignment]  # same decorator shape, another async plugin runs it

__all__ = ["SandboxStack", "UnknownSandboxUser", "sandbox_backend"]

_SERVER = pytest.StashKey[object]()
_SETTINGS = pytest.StashKey[dict[str, Any]]()
MOCK_ONLY_REASON = "mock-only: uses the mock IdP's x-mock controls, which a real Keycloak does not have"
_ASYNC_MARKS = ("asyncio", "anyio", "trio")
_FIXTURES = frozenset({"sandbox", "mcp_client", "idp", "browser_login"})


def pytest_addoption(parser: pytest.Parser) -> None:
    # Called as pytest registers the plugin: from here to the first stack, a run is mostly
    # imports (pydantic-settings now, FastMCP and the MCP SDK at the stack), which the cyclic
    # collector would walk again and again for nothing (mock_idp/gc_pause.py).
    gc_pause.pause()
    add_options(parser)


def pytest_sessionstart(session: pytest.Session) -> None:
    if session.config.pluginmanager.has_plugin("dsession"):  # xdist's controller: it runs no test
        gc_pause.resume(freeze=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        # A stack started in this setup resumed collection already, start-up frozen; a first
        # test without one resumes it here, its objects left to the collector as usual.
        gc_pause.resume(freeze=False)


def pytest_unconfigure(config: pytest.Config) -> None:
    gc_pause.resume(freeze=False)  # a run that set up no test (--collect-only, a usage error)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"mock_only: {MOCK_ONLY_REASON}; skipped with --sandbox-backend keycloak")
    config.addinivalue_line("markers", "browser: drives a real Chromium through Playwright (browser_login)")
    # mcp_client keeps each client's tokens in memory on purpose; FastMCP warns about it every time.
    config.addinivalue_line("filterwarnings", "ignore:Using in-memory token storage:UserWarning")
    backend = sandbox_backend(config)
    if backend not in BACKENDS:
        raise pytest.UsageError(
            f"sandbox backend {backend!r} (from SANDBOX_BACKEND or ini sandbox_backend) must be mock or keycloak"
        )
    from sandbox.settings import unknown_variables

    for warning in unknown_variables(os.environ):
        config.issue_config_time_warning(pytest.PytestConfigWarning(f"mcp-oauth-sandbox: {warning}"), stacklevel=2)
    config.stash[_SETTINGS] = sandbox_settings(config)  # a bad setting stops the run now, in one line
    server = configured_server(config)  # a bad spec fails the run in one line now, not every test at setup
    if server is not None:
        config.stash[_SERVER] = server


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> Generator[None, pluggy.Result[object], None]:
    """Mark async tests that use the sandbox's fixtures for pytest-asyncio, in its strict mode too.

    Inside pytest-asyncio's own wrapper (``trylast``), so the mark is there when it decides
    which functions it runs; a project needs no ``asyncio_mode`` for the README's snippet.
    """
    outcome = yield
    if not inspect.iscoroutinefunction(obj):
        return
    result = outcome.get_result()
    for item in result if isinstance(result, list) else [result]:
        if not isinstance(item, pytest.Function) or not _FIXTURES & set(item.fixturenames):
            continue
        if not any(item.get_closest_marker(mark) for mark in _ASYNC_MARKS):
            item.add_marker("asyncio")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if sandbox_backend(config) == "mock":
        return
    skip = pytest.mark.skip(reason=MOCK_ONLY_REASON)
    for item in items:
        if item.get_closest_marker("mock_only"):
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str:
    given = config.stash.get(_SETTINGS, {})
    spec = sandbox_server_spec(config) or given.get("upstream") or given.get("upstream_command")
    return f"mcp-oauth-sandbox: backend {sandbox_backend(config)}" + (f", server {spec}" if spec else "")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    remember_report(item, report)
    return report


@pytest.fixture(scope="session")
def sandbox_server(request: pytest.FixtureRequest) -> Any:
    """The server the sandbox wraps: a FastMCP instance, a ``module:attr`` spec, or None for the sample tools.

    Defaults to ``--sandbox-server``; override this fixture in a conftest to build it in code.
    """
    return request.config.stash.get(_SERVER, None)


@pytest.fixture(scope="session")
def sandbox_stacks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxStacks]:
    config = request.config
    stacks = SandboxStacks(config, config.stash[_SETTINGS], tmp_path_factory, terminal_phases(config))
    try:
        yield stacks
    finally:
        stacks.close()


@pytest.fixture
def sandbox(sandbox_stacks: SandboxStacks, sandbox_server: Any) -> SandboxStack:
    """The running stack (started once per session and server): the mock in-process, Keycloak launched once."""
    return sandbox_stacks.get(sandbox_server)


@pytest.fixture
def mcp_client(sandbox: SandboxStack) -> Iterator[SignInClients]:
    """``async with mcp_client("bob") as client:``: a FastMCP client that signs in as bob, headless,
    on first use; the keyword arguments are :meth:`sandbox.testing.clients.SignInClients.__call__`'s."""
    clients = SignInClients(sandbox)
    try:
        yield clients
    finally:
        clients.close()


@pytest.fixture
def idp(sandbox: SandboxStack) -> Iterator[IdpControl]:
    """The identity provider's control API (:class:`sandbox.idp_control.IdpControl`); reset after the test."""
    from sandbox.idp_control import IdpControl

    control = IdpControl(
        sandbox.idp_server_url,
        sandbox.realm,
        sandbox.backend,
        credentials=sandbox.credentials,
        on_key_rotation=sandbox.key_rotations.rotated,
    )
    try:
        yield control
    finally:
        control.reset()


@_async_fixture
async def browser_login(request: pytest.FixtureRequest, sandbox: SandboxStack) -> AsyncIterator[BrowserLogin]:
    """Chromium with the flow's page objects; on failure, screenshots under test-artifacts/<test>/."""
    async with chromium_page(request.node, fixture="browser_login") as (page, trail):
        from sandbox.testing.browser import BrowserLogin

        yield BrowserLogin(page, sandbox.mcp_url, sandbox.credentials, trail=trail)
