"""A mock-backend sandbox with a file store imports only what it serves with (issue 17).

The Redis client, FastMCP's client and proxy (upstream mode), the Keycloak launcher, an HTTP
client for discovery, griffe (FastMCP's docstring parser), websockets and FastAPI each cost
start-up time and are needed only by other backends, stores or modes, or by nothing. Each check runs in a fresh interpreter, since
this test process has imported most of them already; a redis:// store must load the Redis
client there, so the check can tell loaded from not loaded. The pytest plugin's mock stack, its
clients and headless sign-in likewise load no Keycloak launcher and no second HTTP client.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.testing.server import clean_environment, free_port

NOT_NEEDED = [
    "redis",
    "key_value.aio.stores.redis",
    "fastmcp.client",
    "sandbox.upstream.server",
    "sandbox.backends.keycloak",
    "testcontainers",
    "docker",
    "httpx",
    "griffe",
    "websockets",
    "fastapi",
]

# Builds the app as the CLI does (sandbox.cli.build; the environment has no SANDBOX_* settings)
# and loads uvicorn's protocols as it serves.
BUILD_APP = """
import sys
from sandbox.cli import build
from sandbox.settings import SandboxSettings
import uvicorn

app = build(SandboxSettings(state_dir=sys.argv[1], port=int(sys.argv[2]), store="file"))
try:
    uvicorn.Config(app, ws="none", log_config=None).load()
finally:
    app.state.sandbox.backend.stop()
"""

# What the pytest plugin's fixtures import for a mock-backend stack, and the app they build.
PLUGIN_MOCK_STACK = """
import sys
from pathlib import Path
from sandbox.testing.clients import SignInClients
from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.key_rotation import SignInClient
from sandbox.testing.server import IsolatedSettings, free_port
from sandbox.app import create_app

app = create_app(IsolatedSettings(state_dir=Path(sys.argv[1]), port=free_port(), store="memory"))
app.state.sandbox.backend.stop()
"""

# The Keycloak launchers, and httpx: the MCP SDK speaks httpx2, so the headless browser does too.
PLUGIN_NOT_NEEDED = [
    "httpx",
    "sandbox.backends.keycloak.base",
    "sandbox.backends.keycloak.choose",
    "sandbox.backends.keycloak.container",
    "sandbox.backends.keycloak.distribution",
    "testcontainers",
]

# The proxy's store for a redis:// URL: built without connecting, so no Redis need answer.
BUILD_REDIS_STORE = """
import sys
from pathlib import Path
from sandbox.state import StateDir

StateDir(Path(sys.argv[1])).client_storage(f"redis://127.0.0.1:{sys.argv[2]}/0")
"""


def modules_after(script: str, tmp_path: Path) -> set[str]:
    """The modules a fresh interpreter has loaded once ``script`` ran."""
    report = "\nimport json\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", script + report, str(tmp_path / "state"), str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environment(),
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_mock_backend_with_file_store_imports_none_of_the_others(tmp_path: Path) -> None:
    loaded = modules_after(BUILD_APP, tmp_path)
    assert "sandbox.app" in loaded  # the app was built in that interpreter
    assert sorted(loaded & set(NOT_NEEDED)) == []


@pytest.mark.parametrize("module", ["redis", "key_value.aio.stores.redis"])
def test_a_redis_store_loads_the_redis_client(tmp_path: Path, module: str) -> None:
    (tmp_path / "state").mkdir()
    assert module in modules_after(BUILD_REDIS_STORE, tmp_path)


def test_the_plugins_mock_stack_loads_no_keycloak_launcher_nor_a_second_http_client(tmp_path: Path) -> None:
    # The test helpers take free_port from sandbox.backends.keycloak.ports; that must not load
    # the launchers beside it, nor their httpx (~25 ms of every plugin start).
    loaded = modules_after(PLUGIN_MOCK_STACK, tmp_path)
    assert {"sandbox.testing.server", "sandbox.backends.keycloak.ports", "sandbox.app", "httpx2"} <= loaded
    assert sorted(loaded & set(PLUGIN_NOT_NEEDED)) == []
