"""pytest plugin start-up: seconds from starting pytest to a test's first authenticated tool call.

Each run is a fresh `python -m pytest` on a one-test file that uses only the plugin's
fixtures (session `sandbox`, `mcp_client`); the test writes the wall-clock time right
after its first `call_tool` returns, and the clock started just before the process was
spawned. Mock: in-process IdP. Keycloak: one real Keycloak launched for the session.

    python bench/bench_plugin_startup.py [--mock-runs 5] [--keycloak-runs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST_FILE = """
import os, time
import pytest


@pytest.mark.asyncio
async def test_first_call(mcp_client):
    async with mcp_client("alice") as client:
        await client.call_tool("greet", {"name": "bench"})
        with open(os.environ["BENCH_OUT"], "w") as out:
            out.write(repr(time.time()))
"""


def one_run(directory: Path, backend: str) -> float:
    out = directory / "first-call"
    out.unlink(missing_ok=True)
    env = {**os.environ, "BENCH_OUT": str(out)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--sandbox-backend",
        backend,
        "test_bench.py",
    ]
    started = time.time()
    result = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0 or not out.exists():
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise SystemExit(f"{backend} run failed (exit {result.returncode}):\n{tail}")
    return float(out.read_text()) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mock-runs", type=int, default=5)
    parser.add_argument("--keycloak-runs", type=int, default=2)
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "test_bench.py").write_text(TEST_FILE)
        mock = [one_run(directory, "mock") for _ in range(args.mock_runs)]
        rows.append(
            (
                f"mock backend (median of {len(mock)})",
                f"{statistics.median(mock):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in mock)})",
            )
        )
        if args.keycloak_runs:
            from sandbox.backends.keycloak import keycloak_unavailable_reason

            reason = keycloak_unavailable_reason()
            if reason:
                rows.append(("keycloak backend", f"not measured: {reason}"))
            else:
                keycloak = [one_run(directory, "keycloak") for _ in range(args.keycloak_runs)]
                rows.append(
                    (
                        f"keycloak backend (median of {len(keycloak)})",
                        f"{statistics.median(keycloak):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in keycloak)})",
                    )
                )
    width = max(len(name) for name, _ in rows)
    print(f"pytest plugin: pytest start -> first authenticated tool call ({os.cpu_count()} cores, loopback)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
