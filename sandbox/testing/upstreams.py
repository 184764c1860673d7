"""Upstream MCP servers for the upstream-mode suites: the npm "everything" server, run under
Node 22 over Streamable HTTP or stdio, and a small Python server that shows what it was sent.

`make mcp-peers` installs the npm packages (pinned in the Makefile) into `.tools/mcp-peers`.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import mcp_types
import uvicorn
from fastmcp import Context, FastMCP
from fastmcp.server.dependencies import get_http_headers

from sandbox.testing.node import ROOT, NodeMissing, node22_bin, node22_env
from sandbox.testing.server import free_port

PEERS = ROOT / ".tools" / "mcp-peers" / "node_modules"
EVERYTHING = PEERS / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
CONFORMANCE = PEERS / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"


def require(path: Path) -> Path:
    node22_bin()
    if not path.exists():
        raise NodeMissing(f"{path.relative_to(ROOT)} is not installed: run `make mcp-peers`")
    return path


def everything_command() -> str:
    """The stdio "everything" server as one command line, for ``--upstream-command``."""
    return shlex.join([str(node22_bin() / "node"), str(require(EVERYTHING)), "stdio"])


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"upstream on port {port} exited with {process.returncode} while starting")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"upstream on port {port} not listening after {timeout} s")


class NodeUpstream:
    """The "everything" server over Streamable HTTP on one port; it can be killed and started again."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}/mcp"

    def start(self) -> None:
        env = node22_env() | {"PORT": str(self.port)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(node22_bin() / "node"), str(require(EVERYTHING)), "streamableHttp"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_for_port(self.port, self.process)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


@contextmanager
def everything_http(log: Path) -> Iterator[NodeUpstream]:
    upstream = NodeUpstream(free_port(), log)
    upstream.start()
    try:
        yield upstream
    finally:
        upstream.kill()


def header_echo_server() -> FastMCP:
    """Answers ``headers`` with every HTTP header of the request it got, credentials included."""
    mcp = FastMCP("header echo")

    @mcp.tool
    def headers() -> dict[str, str]:
        """The request's HTTP headers, as the upstream received them."""
        return get_http_headers(include_all=True)

    @mcp.tool
    async def notify(ctx: Context) -> str:
        """Logs one message and says the tool list changed, during the call."""
        await ctx.info("a log message from the upstream")
        await ctx.send_notification(mcp_types.ToolListChangedNotification())
        return "notified"

    return mcp


@contextmanager
def serve_in_thread(server: FastMCP, port: int | None = None) -> Iterator[str]:
    """A FastMCP server over Streamable HTTP on a free loopback port; yields its /mcp URL."""
    with serve_asgi_in_thread(server.http_app(path="/mcp"), port) as url:
        yield url


class Misbehaving:
    """ASGI wrapper around an MCP app that can be told to answer garbage or never answer."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.mode: Literal["ok", "garbage", "hang"] = "ok"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.mode == "ok":
            await self.app(scope, receive, send)
            return
        if self.mode == "hang":
            await asyncio.Event().wait()  # cancelled when the client gives up
        body = b"<html><body>502 Bad Gateway</body></html>"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


@contextmanager
def serve_asgi_in_thread(app: Any, port: int | None = None) -> Iterator[str]:
    """Any ASGI app on a free loopback port (lifespan on); yields its /mcp URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name=f"upstream:{port}", daemon=True)
    thread.start()
    while not uv.started:
        if not thread.is_alive():
            raise RuntimeError(f"upstream on port {port} stopped during start-up")
        time.sleep(0.02)
    try:
        yield f"http://localhost:{port}/mcp"
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
