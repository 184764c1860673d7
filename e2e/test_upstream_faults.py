"""Upstream mode when the upstream fails: one clear JSON-RPC error naming it, never a hang or
a 500, and the sandbox serves again as soon as the upstream does."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from key_value.aio.stores.memory import MemoryStore
from mcp.shared.exceptions import MCPError

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.server import RunningSandbox, running_sandbox
from sandbox.testing.upstreams import (
    Misbehaving,
    NodeUpstream,
    everything_command,
    header_echo_server,
    serve_asgi_in_thread,
)

UPSTREAM_FAILED = (ToolError, MCPError)


def signed_in(sandbox: RunningSandbox, **kwargs: Any) -> Client:
    auth = HeadlessOAuth(HeadlessBrowser("alice", "alice"), token_storage=MemoryStore())
    return Client(sandbox.mcp_url, auth=auth, mode="legacy", **kwargs)


@pytest.fixture(scope="module")
def misbehaving() -> Iterator[tuple[Misbehaving, str]]:
    upstream = Misbehaving(header_echo_server().http_app(path="/mcp"))
    with serve_asgi_in_thread(upstream) as url:
        yield upstream, url


@pytest.fixture(scope="module")
def misbehaving_sandbox(session_sandbox_settings, misbehaving, tmp_path_factory) -> Iterator[RunningSandbox]:
    settings = session_sandbox_settings(
        "upstream-faults", tmp_path_factory.mktemp("state"), upstream=misbehaving[1], upstream_timeout=2
    )
    with running_sandbox(settings) as running:
        yield running


@pytest.mark.parametrize(
    ("mode", "cause"), [("garbage", "answered text/html, not MCP"), ("hang", "no answer within 2 s")]
)
async def test_a_bad_upstream_is_a_clear_error_then_recovers(
    misbehaving, misbehaving_sandbox, mode: str, cause: str
) -> None:
    upstream, url = misbehaving
    async with signed_in(misbehaving_sandbox) as client:
        upstream.mode = mode
        try:
            with pytest.raises(UPSTREAM_FAILED, match=f"upstream {url}: ({cause})") as failed:
                await client.call_tool("headers", {})
            assert "Traceback" not in str(failed.value)
        finally:
            upstream.mode = "ok"
        assert (await client.call_tool("headers", {})).data["x-forwarded-user"] == "alice"


@pytest.fixture(scope="module")
def node_sandbox(session_sandbox_settings, node_upstream, tmp_path_factory) -> Iterator[RunningSandbox]:
    settings = session_sandbox_settings("upstream-kill", tmp_path_factory.mktemp("state"), upstream=node_upstream.url)
    with running_sandbox(settings) as running:
        yield running


async def call_and_kill(client: Client, kill: Any) -> BaseException:
    """Start a long call; once its first progress arrives, kill the upstream; return the error."""
    started = asyncio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        started.set()

    call = asyncio.create_task(
        client.call_tool("trigger-long-running-operation", {"duration": 30, "steps": 30}, progress_handler=on_progress)
    )
    await asyncio.wait_for(started.wait(), 20)
    kill()
    with pytest.raises(UPSTREAM_FAILED) as failed:
        await asyncio.wait_for(call, 30)  # a bound, not a speed check: a hang fails here
    return failed.value


async def test_killing_the_http_upstream_mid_call(node_upstream: NodeUpstream, node_sandbox: RunningSandbox) -> None:
    async with signed_in(node_sandbox) as client:
        error = await call_and_kill(client, node_upstream.kill)
        assert f"upstream {node_upstream.url}" in str(error)
        with pytest.raises(UPSTREAM_FAILED, match=f"upstream {node_upstream.url}: unreachable"):
            await client.call_tool("echo", {"message": "anyone there?"})
        node_upstream.start()
        assert (await client.call_tool("echo", {"message": "back"})).content[0].text == "Echo: back"


@pytest.fixture(scope="module")
def stdio_sandbox(session_sandbox_settings, tmp_path_factory) -> Iterator[tuple[RunningSandbox, Path]]:
    pid_file = tmp_path_factory.mktemp("pid") / "upstream.pid"
    # The shell records the server's pid, then becomes the server (exec): the test can kill exactly it.
    command = shlex.join(["sh", "-c", f"echo $$ > {shlex.quote(str(pid_file))}; exec {everything_command()}"])
    settings = session_sandbox_settings(
        "upstream-kill-stdio", tmp_path_factory.mktemp("state"), upstream_command=command
    )
    with running_sandbox(settings) as running:
        yield running, pid_file


async def test_a_stdio_server_that_exits_is_reported_and_restarted(stdio_sandbox) -> None:
    sandbox, pid_file = stdio_sandbox
    async with signed_in(sandbox) as client:
        assert (await client.call_tool("echo", {"message": "one"})).content[0].text == "Echo: one"
        first = int(pid_file.read_text())
        error = await call_and_kill(client, lambda: os.kill(first, signal.SIGKILL))
        assert "upstream command" in str(error) and "started again on the next call" in str(error)
        assert (await client.call_tool("echo", {"message": "two"})).content[0].text == "Echo: two"
        assert int(pid_file.read_text()) != first
