"""The sandbox (sandbox/cli.py) and the standalone mock IdP (mock_idp/__main__.py) leave
uvicorn's loop and HTTP implementation on "auto": this pins that "auto" resolves to uvloop
and httptools, i.e. that uvicorn[standard] is installed, not the pure-Python h11 parser
that cost about 11% of an authenticated MCP call (issue 17)."""

from __future__ import annotations

from typing import Any

import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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
