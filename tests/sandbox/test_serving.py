"""The sandbox (sandbox/cli.py) and the standalone mock IdP (mock_idp/__main__.py) leave
uvicorn's loop on "auto" and serve HTTP with httptools (the sandbox and the mock through
mock_idp/protocol.py's one-write protocol, built on uvicorn's): this pins that "auto" resolves
to uvloop and httptools, i.e. that uvicorn[standard] is installed, not the pure-Python h11
parser that cost about 11% of an authenticated MCP call (issue 17)."""

from __future__ import annotations

from typing import Any

import uvicorn
import uvloop
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mock_idp.protocol import OneWritePerResponse
from sandbox.cli import server_config
from sandbox.settings import SandboxSettings


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:  # never called: only loaded
    raise AssertionError("not served")


def test_uvicorn_auto_settings_pick_httptools_and_uvloop() -> None:
    config = uvicorn.Config(_app, log_config=None)
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
    loop_factory = config.get_loop_factory()
    assert loop_factory is not None
    loop = loop_factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_the_sandbox_writes_each_response_in_one_syscall(tmp_path) -> None:
    # mock_idp/serving.py's protocol (its own tests show the single write); uvicorn's plain
    # httptools protocol writes head and body apart, one more syscall per MCP call.
    config = server_config(Starlette(), SandboxSettings(state_dir=tmp_path))
    config.load()
    assert config.http_protocol_class is OneWritePerResponse
    assert issubclass(OneWritePerResponse, HttpToolsProtocol)
