"""What the sandbox's log prints (sandbox/logs.py): no credential from a request line, no forged line."""

from __future__ import annotations

import logging

from sandbox.logs import LOG_FORMAT, SafeLines

CODE = "f1c2a3b4-d5e6-4f70-8192-a3b4c5d6e7f8.0123456789abcdef"


def printed(name: str, msg: str, *args: object) -> str:
    record = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)
    assert SafeLines().filter(record)
    return logging.Formatter(LOG_FORMAT).format(record)


def test_a_request_line_shows_no_code_or_session_id() -> None:
    """uvicorn's access log printed the IdP's code and session_state at /auth/callback whole."""
    path = f"/auth/callback?state=abc&session_state=5f0e7a12-0b1c-4d2e-9f30-41526374a5b6&code={CODE}"
    line = printed("uvicorn.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", path, "1.1", 302)
    assert CODE not in line and "5f0e7a12-0b1c-4d2e-9f30-41526374a5b6" not in line
    assert "code=f1c2a3b4…" in line and "state=abc" in line and line.endswith('HTTP/1.1" 302')


def test_a_line_break_sent_by_a_client_cannot_start_a_second_record() -> None:
    """FastMCP logs a callback's state as it came: %0A started a real-looking record of its own."""
    line = printed("fastmcp.server.auth", "IdP callback state: %s", "abc\nINFO sandbox: user admin granted mcp:admin\r")
    assert "\n" not in line and "\r" not in line
    assert line == "INFO fastmcp.server.auth: IdP callback state: abc\\nINFO sandbox: user admin granted mcp:admin\\r"
