"""The pytest plugin's options: declared once, resolved as command line > ``SANDBOX_*`` > ini > default.

One backend option for every suite: the project's own e2e suite reads ``--sandbox-backend``
through :func:`sandbox_backend` like any user's project.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

BACKENDS = ("mock", "keycloak")
_OPTIONS: tuple[tuple[str, dict[str, Any], str, str], ...] = (
    (
        "--sandbox-backend",
        {"choices": BACKENDS},
        "identity provider for the sandbox fixtures: mock (in-process, default) or keycloak",
        "SANDBOX_BACKEND, ini sandbox_backend",
    ),
    (
        "--sandbox-server",
        {"metavar": "MODULE:ATTR"},
        "your FastMCP server (instance or zero-argument factory) to put behind the proxy instead of the sample tools",
        "SANDBOX_SERVER, ini sandbox_server",
    ),
    (
        "--sandbox-realm",
        {"metavar": "FILE"},
        "Keycloak realm export both backends load (default: the sandbox realm in the package)",
        "SANDBOX_REALM_FILE, ini sandbox_realm",
    ),
    (
        "--sandbox-port",
        {"type": int, "metavar": "N"},
        "port the sandbox serves on (default: a free one)",
        "SANDBOX_PORT, ini sandbox_port",
    ),
    (
        "--sandbox-upstream",
        {"metavar": "URL"},
        "any Streamable HTTP MCP server (any language) to put behind the proxy",
        "SANDBOX_UPSTREAM, ini sandbox_upstream",
    ),
    (
        "--sandbox-upstream-command",
        {"metavar": "CMD"},
        "a stdio MCP server command line to start and put behind the proxy",
        "SANDBOX_UPSTREAM_COMMAND, ini sandbox_upstream_command",
    ),
)
_INI: tuple[tuple[str, str, str], ...] = (
    ("sandbox_upstream", "an MCP server URL to put behind the proxy", ""),
    ("sandbox_upstream_command", "a stdio MCP server command to put behind the proxy", ""),
    ("sandbox_backend", "identity provider for the sandbox fixtures: mock or keycloak", "mock"),
    ("sandbox_server", "your FastMCP server as module:attr", ""),
    ("sandbox_realm", "realm file for the sandbox fixtures (relative to the ini file)", ""),
    ("sandbox_port", "port for the sandbox fixtures (default: a free one)", ""),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mcp-oauth-sandbox", "MCP OAuth sandbox (your MCP server behind FastMCP's OAuth proxy)")
    for flag, kwargs, text, sources in _OPTIONS:
        group.addoption(flag, default=None, help=f"{text} (env {sources})", **kwargs)
    for name, text, default in _INI:
        parser.addini(name, text, default=default)


def sandbox_backend(config: pytest.Config) -> str:
    return str(
        config.getoption("--sandbox-backend")
        or os.environ.get("SANDBOX_BACKEND")
        or config.getini("sandbox_backend")
        or "mock"
    )


def sandbox_server_spec(config: pytest.Config) -> str | None:
    spec = config.getoption("--sandbox-server") or os.environ.get("SANDBOX_SERVER") or config.getini("sandbox_server")
    return str(spec) if spec else None


def configured_server(config: pytest.Config) -> object:
    """The server ``--sandbox-server`` (or ``SANDBOX_SERVER``, ini ``sandbox_server``) names, loaded; None without one."""
    spec = sandbox_server_spec(config)
    if not spec:
        return None
    from sandbox.serverspec import ServerSpecError, load_server

    try:
        return load_server(spec)
    except ServerSpecError as exc:
        raise pytest.UsageError(f"--sandbox-server: {exc}") from None


def sandbox_settings(config: pytest.Config) -> dict[str, Any]:
    """The settings the stacks start from: options > ``SANDBOX_*`` > ini > the plugin's defaults.

    Returned as keyword arguments (the state directory and port are filled in per stack).
    A bad setting, two servers or an unreadable realm stop the run in one line.
    """
    from pydantic import ValidationError

    from sandbox.settings import SandboxSettings

    try:
        from_environment = SandboxSettings(**_given(config))
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
    checked = SandboxSettings(**settings)
    _check_realm(checked.realm_file)
    if "port" in settings and "PYTEST_XDIST_WORKER" not in os.environ:  # xdist's controller checked it
        _check_port(checked.listen_address, checked.port)
    return settings


def _check_port(address: str, port: int) -> None:
    """A port asked for (``--sandbox-port``, SANDBOX_PORT, the ini) that is taken: one line now, not
    a uvicorn traceback in a background thread and a RuntimeError at the first test."""
    from mock_idp.sockets import bind_listening_socket

    try:
        bind_listening_socket(address, port).close()
    except OSError as exc:
        raise pytest.UsageError(
            f"mcp-oauth-sandbox: cannot listen on {address}:{port}: {exc.strerror} (choose another with --sandbox-port)"
        ) from None


def _given(config: pytest.Config) -> dict[str, Any]:
    """What the options and ini give; the environment is read by the settings themselves."""
    options: dict[str, Any] = {"backend": sandbox_backend(config)}
    realm = config.getoption("--sandbox-realm")
    if realm:
        options["realm_file"] = Path(realm)
    elif config.getini("sandbox_realm") and "SANDBOX_REALM_FILE" not in os.environ:
        # Beside the ini file that names it; with none (``-o sandbox_realm=...``), in the rootdir itself.
        base = Path(config.inipath).parent if config.inipath else Path(config.rootpath)
        options["realm_file"] = base / config.getini("sandbox_realm")
    for name in ("upstream", "upstream_command"):
        value = config.getoption(f"--sandbox-{name.replace('_', '-')}") or (
            f"SANDBOX_{name.upper()}" not in os.environ and config.getini(f"sandbox_{name}")
        )
        if value:
            options[name] = value
    port = config.getoption("--sandbox-port") or ("SANDBOX_PORT" not in os.environ and config.getini("sandbox_port"))
    if port:
        options["port"] = port
    return options


def _check_realm(realm_file: Path) -> None:
    from mock_idp import RealmError
    from sandbox.served_realm import read_realm

    try:
        read_realm(realm_file)
    except RealmError as exc:
        raise pytest.UsageError(f"mcp-oauth-sandbox: {exc}") from None
