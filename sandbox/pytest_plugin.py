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

Fixtures:

    sandbox       the running stack (base_url, mcp_url, realm_url, backend, users, admin_url), started
                  once per session (and per server, if a conftest overrides sandbox_server)
    sandbox_server  session: the FastMCP server to wrap (override it in a conftest to build one in code)
    mcp_client    mcp_client("bob") -> an unconnected fastmcp.Client signed in as bob on first use
                  (registration="dcr"|"cimd", scopes=[...])
    idp           the control API (sandbox.control.IdpControl), reset after each test
    browser_login Chromium with the consent and login page objects (needs Playwright)

Marker: ``@pytest.mark.mock_only`` skips a test on Keycloak (for the mock-only controls).
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

try:  # async fixtures work in pytest-asyncio's strict mode too
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - the browser fixture then needs another async plugin
    _async_fixture = pytest.fixture

BACKENDS = ("mock", "keycloak")
_SERVER = pytest.StashKey[object]()
_SETTINGS = pytest.StashKey[dict]()
MOCK_ONLY_REASON = "mock-only: uses the mock IdP's x-mock controls, which a real Keycloak does not have"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mcp-oauth-sandbox", "MCP OAuth sandbox (your MCP server behind FastMCP's OAuth proxy)")
    group.addoption(
        "--sandbox-backend",
        choices=BACKENDS,
        default=None,
        help="identity provider for the sandbox fixtures: mock (in-process, default) or keycloak "
        "(env SANDBOX_BACKEND, ini sandbox_backend)",
    )
    group.addoption(
        "--sandbox-server",
        default=None,
        metavar="MODULE:ATTR",
        help="your FastMCP server (instance or zero-argument factory) to put behind the proxy "
        "instead of the sample tools (env SANDBOX_SERVER, ini sandbox_server)",
    )
    group.addoption(
        "--sandbox-realm",
        default=None,
        metavar="FILE",
        help="Keycloak realm export both backends load (default: the sandbox realm in the package; "
        "env SANDBOX_REALM_FILE, ini sandbox_realm)",
    )
    group.addoption(
        "--sandbox-port",
        type=int,
        default=None,
        metavar="N",
        help="port the sandbox serves on (default: a free one; env SANDBOX_PORT, ini sandbox_port)",
    )
    group.addoption(
        "--sandbox-upstream",
        default=None,
        metavar="URL",
        help="any Streamable HTTP MCP server (any language) to put behind the proxy "
        "(env SANDBOX_UPSTREAM, ini sandbox_upstream)",
    )
    group.addoption(
        "--sandbox-upstream-command",
        default=None,
        metavar="CMD",
        help="a stdio MCP server command line to start and put behind the proxy "
        "(env SANDBOX_UPSTREAM_COMMAND, ini sandbox_upstream_command)",
    )
    parser.addini("sandbox_upstream", "an MCP server URL to put behind the proxy", default="")
    parser.addini("sandbox_upstream_command", "a stdio MCP server command to put behind the proxy", default="")
    parser.addini("sandbox_backend", "identity provider for the sandbox fixtures: mock or keycloak", default="mock")
    parser.addini("sandbox_server", "your FastMCP server as module:attr", default="")
    parser.addini("sandbox_realm", "realm file for the sandbox fixtures (relative to the ini file)", default="")
    parser.addini("sandbox_port", "port for the sandbox fixtures (default: a free one)", default="")


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
    spec = sandbox_server_spec(config)
    if spec:
        # Fail the run in one line now rather than every test at setup.
        from sandbox.serverspec import ServerSpecError, load_server

        try:
            config.stash[_SERVER] = load_server(spec)
        except ServerSpecError as exc:
            raise pytest.UsageError(f"--sandbox-server: {exc}") from None


def sandbox_backend(config: pytest.Config) -> str:
    return (
        config.getoption("--sandbox-backend")
        or os.environ.get("SANDBOX_BACKEND")
        or config.getini("sandbox_backend")
        or "mock"
    )


def sandbox_server_spec(config: pytest.Config) -> str | None:
    return (
        config.getoption("--sandbox-server")
        or os.environ.get("SANDBOX_SERVER")
        or config.getini("sandbox_server")
        or None
    )


def sandbox_settings(config: pytest.Config) -> dict[str, Any]:
    """The settings the stacks start from: options > ``SANDBOX_*`` > ini > the plugin's defaults.

    Returned as keyword arguments (the state directory and port are filled in per stack).
    """
    from pydantic import ValidationError

    from sandbox.settings import SandboxSettings

    options: dict[str, Any] = {"backend": sandbox_backend(config)}
    realm = config.getoption("--sandbox-realm")
    if realm:
        options["realm_file"] = Path(realm)
    elif config.getini("sandbox_realm") and "SANDBOX_REALM_FILE" not in os.environ:
        options["realm_file"] = Path(config.inipath or config.rootpath).parent / config.getini("sandbox_realm")
    for name in ("upstream", "upstream_command"):
        value = config.getoption(f"--sandbox-{name.replace('_', '-')}") or (
            f"SANDBOX_{name.upper()}" not in os.environ and config.getini(f"sandbox_{name}")
        )
        if value:
            options[name] = value
    port = config.getoption("--sandbox-port") or ("SANDBOX_PORT" not in os.environ and config.getini("sandbox_port"))
    if port:
        options["port"] = port
    try:
        from_environment = SandboxSettings(**options)
        # Tests want isolation and quiet by default; anything the user set wins.
        defaults = {"store": "memory", "log_level": "warning"}
        settings = from_environment.model_dump(include=from_environment.model_fields_set)
        settings = {**{k: v for k, v in defaults.items() if k not in settings}, **settings}
        SandboxSettings(**settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        where = f" (SANDBOX_{name.upper()}, or its --sandbox-/ini option)" if name else ""
        raise pytest.UsageError(
            f"mcp-oauth-sandbox: invalid setting {name}{where}: {first['msg'].removeprefix('Value error, ')}"
        ) from None
    settings.pop("server", None)  # resolved by sandbox_server_spec, not from SANDBOX_SERVER again
    upstream = [
        f"--sandbox-{name.replace('_', '-')}" for name in ("upstream", "upstream_command") if settings.get(name)
    ]
    if sandbox_server_spec(config) and upstream:
        raise pytest.UsageError(f"mcp-oauth-sandbox: give only one server to test: --sandbox-server and {upstream[0]}")
    from mock_idp import RealmError
    from sandbox.realm import read_realm

    try:
        read_realm(SandboxSettings(**settings).realm_file)
    except RealmError as exc:
        raise pytest.UsageError(f"mcp-oauth-sandbox: {exc}") from None
    return settings


_ASYNC_MARKS = ("asyncio", "anyio", "trio")
_FIXTURES = frozenset({"sandbox", "mcp_client", "idp", "browser_login"})


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Iterator[None]:
    """Mark async tests that use the sandbox's fixtures for pytest-asyncio, in its strict mode too.

    Inside pytest-asyncio's own wrapper (``trylast``), so the mark is there when it decides
    which functions it runs; a project needs no ``asyncio_mode`` for the README's snippet.
    """
    outcome = yield
    if not inspect.iscoroutinefunction(obj):
        return
    result = outcome.get_result()
    for item in result if isinstance(result, list) else [result]:
        if isinstance(item, pytest.Function) and _FIXTURES & set(item.fixturenames):
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


# -- the stack ---------------------------------------------------------------------------


@dataclass
class SandboxStack:
    """A running sandbox as the fixtures expose it."""

    backend: Literal["mock", "keycloak"]
    base_url: str
    mcp_url: str
    realm: str
    realm_url: str
    # Where the realm lives below: python-keycloak's server_url.
    idp_server_url: str
    # Demo users of the realm file: username -> password.
    users: dict[str, str]
    running: Any = None  # sandbox.testing.server.RunningSandbox
    # username -> password for every user a client may sign in as (users + those created via idp).
    credentials: dict[str, str] = field(default_factory=dict)
    # Key rotations through idp, so a sign-in refused inside FastMCP's JWKS window says so.
    key_rotations: Any = None  # sandbox.testing.key_rotation.KeyRotations

    @property
    def admin_url(self) -> str:
        """Keycloak's Admin REST API for the realm (the mock serves a subset of it)."""
        return f"{self.idp_server_url}admin/realms/{self.realm}"


@pytest.fixture(scope="session")
def sandbox_server(request: pytest.FixtureRequest) -> Any:
    """The server the sandbox wraps: a FastMCP instance, a ``module:attr`` spec, or None for the sample tools.

    Defaults to ``--sandbox-server``; override this fixture in a conftest to build it in code.
    """
    return request.config.stash.get(_SERVER, None)


class SandboxStacks:
    """The session's running stacks, one per distinct server, each started on first use.

    Usually there is one. A conftest that overrides ``sandbox_server`` in one directory
    gets its own stack there instead of silently reusing another directory's.
    """

    def __init__(self, config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.config = config
        self.tmp_path_factory = tmp_path_factory
        self._stacks: dict[int, tuple[Any, SandboxStack]] = {}
        self._failed: dict[int, tuple[Any, BaseException]] = {}
        self._exit = contextlib.ExitStack()

    def get(self, server: Any) -> SandboxStack:
        server = _resolve_server(server)
        found = self._stacks.get(id(server))
        if found is None:
            if id(server) in self._failed:  # a Keycloak that cannot start is tried once, not per test
                raise self._failed[id(server)][1]
            try:
                found = (server, self._start(server))  # keeps the server alive, so its id stays unique
            except BaseException as exc:
                self._failed[id(server)] = (server, exc)
                raise
            self._stacks[id(server)] = found
        return found[1]

    def close(self) -> None:
        self._exit.close()

    def _start(self, server: Any) -> SandboxStack:
        from sandbox.realm import read_realm
        from sandbox.testing.key_rotation import KeyRotations
        from sandbox.testing.server import IsolatedSettings, free_port, running_sandbox

        given = dict(self.config.stash[_SETTINGS])
        given.setdefault("state_dir", self.tmp_path_factory.mktemp("sandbox-state"))
        shared = self._shared_keycloak_port(given)
        given.setdefault("port", shared or free_port())
        settings = IsolatedSettings(**given)
        base_url = settings.base_url
        backend = settings.backend
        if backend == "keycloak" and not settings.keycloak_url:
            keycloak_url = self._exit.enter_context(
                _identity_provider(
                    settings.realm_file, base_url, self.tmp_path_factory, self.config if shared else None
                )
            )
            settings = IsolatedSettings(**given, keycloak_url=keycloak_url)
        realm = read_realm(settings.realm_file, base_url).model
        users = {
            user.username: user.password
            for user in realm.user_list
            if user.password and not user.service_account_client_id
        }
        from sandbox.upstream.server import UpstreamError

        try:
            running = self._exit.enter_context(running_sandbox(settings, server=server))
        except UpstreamError as exc:
            pytest.fail(f"sandbox upstream: {exc}", pytrace=False)
        upstream_realm_url = running.sandbox.upstream.realm_url
        return SandboxStack(
            backend=backend,
            base_url=base_url,
            mcp_url=settings.mcp_url,
            realm=realm.name,
            realm_url=upstream_realm_url,
            idp_server_url=upstream_realm_url[: -len(f"realms/{realm.name}")],
            users=dict(users),
            running=running,
            credentials=dict(users),
            key_rotations=KeyRotations(),
        )

    def _shared_keycloak_port(self, given: dict[str, Any]) -> int | None:
        """A port in the session's shared Keycloak realm, when this stack can use that Keycloak."""
        from sandbox.settings import DEFAULT_REALM_FILE
        from sandbox.testing.keycloak_session import default_realm, session_keycloak

        if given.get("backend") != "keycloak" or given.get("keycloak_url") or "port" in given:
            return None
        if not default_realm(Path(given.get("realm_file", DEFAULT_REALM_FILE))):
            return None
        return session_keycloak(self.config).claim_port()


def _resolve_server(server: Any) -> Any:
    from fastmcp import FastMCP

    from sandbox.serverspec import ServerSpecError, load_server

    if isinstance(server, str):
        try:
            server = load_server(server)
        except ServerSpecError as exc:
            raise pytest.UsageError(f"--sandbox-server: {exc}") from None
    if server is not None and not isinstance(server, FastMCP):
        raise pytest.UsageError(f"the sandbox_server fixture gave a {type(server).__name__}, not a FastMCP server")
    return server


@pytest.fixture(scope="session")
def sandbox_stacks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxStacks]:
    stacks = SandboxStacks(request.config, tmp_path_factory)
    try:
        yield stacks
    finally:
        stacks.close()


@pytest.fixture
def sandbox(sandbox_stacks: SandboxStacks, sandbox_server: Any) -> SandboxStack:
    """The running stack (started once per session and server): the mock in-process, Keycloak launched once."""
    return sandbox_stacks.get(sandbox_server)


class _identity_provider:
    """A Keycloak for the session's stack (the mock needs none: it is mounted in the sandbox):
    the session's shared one when the stack claimed a port in its realm, else one of its own."""

    def __init__(
        self,
        realm_file: Path,
        base_url: str,
        tmp_path_factory: pytest.TempPathFactory,
        shared: pytest.Config | None = None,
    ) -> None:
        self.realm_file = realm_file
        self.base_url = base_url
        self.tmp_path_factory = tmp_path_factory
        self.shared = shared
        self.launcher: Any = None

    def __enter__(self) -> str:
        from sandbox.backends.keycloak import keycloak_unavailable_reason
        from sandbox.testing.keycloak_session import session_keycloak
        from sandbox.testing.server import shared_keycloak

        reason = keycloak_unavailable_reason()
        if reason:
            pytest.skip(f"Keycloak backend unavailable: {reason}")
        if self.shared is not None:
            return session_keycloak(self.shared).start()[1].base_url  # stopped with the session
        self.launcher = shared_keycloak(
            [self.base_url], self.tmp_path_factory.mktemp("keycloak"), realm_file=self.realm_file
        )
        return self.launcher.__enter__()

    def __exit__(self, *exc_info: object) -> None:
        if self.launcher is not None:
            self.launcher.__exit__(*exc_info)


# -- clients -------------------------------------------------------------------------------


class UnknownSandboxUser(LookupError):
    """mcp_client() was asked for a user whose password the sandbox does not know."""


@pytest.fixture
def mcp_client(sandbox: SandboxStack) -> Iterator[Any]:
    """``async with mcp_client("bob") as client:``: a FastMCP client that signs in as bob.

    The OAuth flow runs headless on first use (registration, the proxy's consent, the IdP's
    login form). Keyword arguments: ``password`` (default: the realm file's, or the one given
    to ``idp.create_user``), ``consent="approve"|"deny"``, ``registration="dcr"|"cimd"``
    (``cimd``: the client's id is the URL of a metadata document the fixture hosts on loopback
    HTTPS for the test, with a certificate from the sandbox's CA), ``scopes=[...]`` (asked for
    in every authorization besides what the server's challenge names, so ``["mcp:admin"]``
    needs no step-up), and anything ``fastmcp.Client`` takes (``timeout=``...).
    Each client has its own token store.
    """
    from key_value.aio.stores.memory import MemoryStore

    from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
    from sandbox.testing.key_rotation import SignInClient

    hosted_documents = contextlib.ExitStack()

    def connect(
        user: str = "alice",
        *,
        password: str | None = None,
        consent: Literal["approve", "deny"] = "approve",
        registration: Literal["dcr", "cimd"] = "dcr",
        scopes: list[str] | None = None,
        **client_kwargs: Any,
    ) -> SignInClient:
        if password is None:
            password = sandbox.credentials.get(user) or sandbox.credentials.get(user.lower())
            if password is None:
                known = ", ".join(sorted(sandbox.credentials)) or "none"
                raise UnknownSandboxUser(
                    f"no user {user!r} in realm {sandbox.realm!r} that the sandbox knows a password for "
                    f"(known: {known}); create one with idp.create_user(...) or pass password=..."
                )
        if registration not in ("dcr", "cimd"):
            raise ValueError(f"registration must be 'dcr' or 'cimd', not {registration!r}")
        metadata_url = (
            hosted_documents.enter_context(_client_document(sandbox, user)) if registration == "cimd" else None
        )
        auth = HeadlessOAuth(
            HeadlessBrowser(user, password, consent=consent, scopes=scopes),
            token_storage=MemoryStore(),
            client_metadata_url=metadata_url,
        )
        return SignInClient(sandbox.mcp_url, auth=auth, user=user, rotations=sandbox.key_rotations, **client_kwargs)

    with hosted_documents:
        yield connect


@contextlib.contextmanager
def _client_document(sandbox: SandboxStack, user: str) -> Iterator[str]:
    """A metadata document for one mcp_client, on loopback HTTPS; yields its URL (the client_id)."""
    from sandbox.testing.cimd import hosted_client_metadata
    from sandbox.tls import LocalCA

    document = {
        "client_name": f"pytest mcp_client ({user})",
        # FastMCP's client listens on a random port; RFC 8252 loopback redirects allow any.
        "redirect_uris": ["http://localhost:*/callback", "http://127.0.0.1:*/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    with hosted_client_metadata(LocalCA(sandbox.running.settings.tls_dir), document) as hosted:
        yield hosted.url


@pytest.fixture
def idp(sandbox: SandboxStack) -> Iterator[Any]:
    """The identity provider's control API (:class:`sandbox.control.IdpControl`); reset after the test."""
    from sandbox.control import IdpControl

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


# -- a real browser ------------------------------------------------------------------------


ARTIFACTS_DIR = "test-artifacts"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


_REPORTS = pytest.StashKey[dict]()


@_async_fixture
async def browser_login(request: pytest.FixtureRequest, sandbox: SandboxStack) -> AsyncIterator[Any]:
    """Chromium with the flow's page objects; on failure, screenshots under test-artifacts/<test>/."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("browser_login needs Playwright: pip install 'mcp-oauth-sandbox[test]'", pytrace=False)

    from sandbox.testing.browser import BrowserLogin
    from sandbox.testing.pages import launch_chromium

    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        login = BrowserLogin(await browser.new_page(), sandbox.mcp_url, sandbox.credentials)
        try:
            yield login
        finally:
            report = item_report(request.node, "call")
            if report is None or report.failed:
                try:
                    await login.trail.record(login.page, "last")
                except Exception:  # the page may be gone; the trail so far still helps
                    pass
                saved = login.trail.save(Path(request.config.rootpath) / ARTIFACTS_DIR / request.node.name)
                print(f"screenshots of the failing flow: {[str(path) for path in saved]}")
            await browser.close()


def item_report(item: pytest.Item, when: str) -> pytest.TestReport | None:
    return item.stash.get(_REPORTS, {}).get(when)
