"""The MCP conformance suite's server scenarios (npm ``@modelcontextprotocol/conformance``),
run under Node 22 against a URL, as ``{scenario: passed?}``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from sandbox.testing.node import node22_bin, node22_env
from sandbox.testing.upstreams import CONFORMANCE, require

SUMMARY_LINE = re.compile(r"^[✓✗] (?P<scenario>[\w./-]+): (?P<passed>\d+) passed, (?P<failed>\d+) failed$")


def run_server_scenarios(url: str, output: Path, timeout: float = 600.0) -> dict[str, bool]:
    """Every active server scenario; a scenario passes when none of its checks failed."""
    argv = [str(node22_bin() / "node"), str(require(CONFORMANCE)), "server", "--url", url, "-o", str(output)]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=node22_env(), stdin=subprocess.DEVNULL
    )
    results = {
        match["scenario"]: int(match["failed"]) == 0
        for line in done.stdout.splitlines()
        if (match := SUMMARY_LINE.match(line.strip()))
    }
    if not results:
        raise RuntimeError(
            f"conformance printed no summary (exit {done.returncode}): {(done.stderr or done.stdout)[-500:]}"
        )
    return results
