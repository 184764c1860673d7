"""The sandbox's own image (`make sandbox-image`), run as a user runs it: published on the
host's loopback, /healthz answering and a whole MCP sign-in made from the host.

Not in the default test paths: `make test-sandbox-image` builds the image, then runs this.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from fastmcp import Client
from testcontainers.core.container import DockerContainer

from sandbox.backends.keycloak.container import bind_on_loopback
from sandbox.backends.keycloak.ports import free_port
from sandbox.backends.keycloak.testcontainers_env import launcher_settings
from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth

IMAGE = "localhost/mcp-oauth-sandbox:latest"
START_TIMEOUT = 120.0  # seconds for the stack to answer /healthz on a loaded machine


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = free_port()
    # The port inside is the port outside: the sandbox's URLs carry it.
    container = DockerContainer(IMAGE).with_command(["--port", str(port)])
    bind_on_loopback(container, port, port)
    with launcher_settings(print, START_TIMEOUT):
        container.start()
    try:
        url = f"http://localhost:{port}"
        _wait_for_health(url, container)
        yield url
    finally:
        stdout, stderr = container.get_logs()
        print((stdout + stderr).decode(errors="replace"))  # shown when a test here fails
        container.stop()


def _wait_for_health(url: str, container: DockerContainer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if container.get_wrapped_container().status == "exited":
            break
        time.sleep(0.5)
        container.get_wrapped_container().reload()
    stdout, stderr = container.get_logs()
    pytest.fail(f"the sandbox container never answered /healthz ({last}); its output:\n{(stdout + stderr).decode()}")


def test_healthz_answers_from_the_host(base_url: str) -> None:
    health = httpx.get(f"{base_url}/healthz").json()
    assert health == {"status": "ok", "backend": "mock", "mcp": f"{base_url}/mcp"}


async def test_an_mcp_client_on_the_host_signs_in_and_calls_a_tool(base_url: str) -> None:
    auth = HeadlessOAuth(HeadlessBrowser("alice", "alice"), mcp_url=f"{base_url}/mcp")
    async with Client(f"{base_url}/mcp", auth=auth) as client:
        greeting = (await client.call_tool("greet", {"name": "world"})).data
    # greet answers as the signed-in user: the token the container's proxy issued names alice.
    assert greeting == "Hello, world! You are signed in as alice (roles: mcp-admin, mcp-user)."
