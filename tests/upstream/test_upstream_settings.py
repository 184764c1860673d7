"""Upstream settings and start-up: one line naming the cause for each way it cannot start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.testing.server import clean_environment, free_port


def run_cli(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        str(free_port()),
        "--store",
        "memory",
        "--state-dir",
        str(state),
        *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=clean_environment())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", f"http://localhost:{free_port()}/mcp"], "did not answer initialize: unreachable"),
        (["--upstream", "ftp://example/mcp"], "must be an http:// or https:// URL"),
        (["--upstream", "http://localhost:1/mcp", "--upstream-command", "x"], "give only one server to protect"),
        (["--upstream-command", "no-such-mcp-server --flag"], "command not found: no-such-mcp-server"),
        (["--upstream-command", "false"], "did not answer initialize: the process exited"),
        (["--upstream-command", "x 'unclosed"], "No closing quotation"),
        (["--upstream-command", "x", "--upstream-token"], "needs an HTTP upstream"),
        (["--upstream", "http://localhost:1/mcp", "--upstream-header", "Authorization=sub"], "reserved"),
        # Without an upstream they were ignored without a word.
        (["--upstream-header", "X-Tenant=acme"], "upstream_headers needs an upstream"),
        (["--upstream-headers-file", "headers.toml"], "upstream_headers_file needs an upstream"),
    ],
)
def test_startup_failures_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli(*args, state=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sandbox: ") and message in lines[0]
