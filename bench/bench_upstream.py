"""Upstream mode: what the proxy hop costs (not a test: it prints figures, it asserts nothing).

npm's "everything" server over Streamable HTTP under Node 22, and the sandbox spawned with
`--upstream` pointing at it. `echo` calls/s and the median latency of one call, on one
session each, alternating direct (no auth) and through the sandbox (signed in as alice),
best of ROUNDS. Needs `make mcp-peers`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from bench_sandbox import sandbox_args, spawned
from fastmcp import Client
from key_value.aio.stores.memory import MemoryStore

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.server import free_port
from sandbox.testing.upstreams import everything_http

CALLS = 100
ROUNDS = 3


async def echo_rate(mcp_url: str, auth: HeadlessOAuth | None) -> tuple[float, float]:
    """(calls per second, median ms per call) for CALLS sequential echo calls."""
    async with Client(mcp_url, auth=auth, mode="legacy") as client:
        await client.call_tool("echo", {"message": "warm-up"})
        latencies = []
        started = time.perf_counter()
        for _ in range(CALLS):
            one = time.perf_counter()
            await client.call_tool("echo", {"message": "bench"})
            latencies.append((time.perf_counter() - one) * 1000)
        return CALLS / (time.perf_counter() - started), statistics.median(latencies)


def main() -> None:
    warnings.filterwarnings("ignore", message="Using in-memory token storage")
    direct: list[tuple[float, float]] = []
    proxied: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as state, everything_http(Path(state) / "everything.log") as upstream:
        port = free_port()
        args = [*sandbox_args("mock", port, state, "memory"), "--upstream", upstream.url]
        with spawned(args, f"http://localhost:{port}/healthz"):
            auth = HeadlessOAuth(HeadlessBrowser("alice", "alice"), token_storage=MemoryStore())
            for _ in range(ROUNDS):
                direct.append(asyncio.run(echo_rate(upstream.url, None)))
                proxied.append(asyncio.run(echo_rate(f"http://localhost:{port}/mcp", auth)))
    best_direct, best_proxied = max(direct), max(proxied)
    print(
        f"upstream mode: the proxy hop ({os.cpu_count()} cores, loopback, {CALLS} sequential echo calls to server-everything, best of {ROUNDS})"
    )
    print(
        f"  direct         {best_direct[0]:7.0f} calls/s   median {best_direct[1]:6.1f} ms   (runs: {', '.join(f'{r:.0f}' for r, _ in direct)})"
    )
    print(
        f"  through proxy  {best_proxied[0]:7.0f} calls/s   median {best_proxied[1]:6.1f} ms   (runs: {', '.join(f'{r:.0f}' for r, _ in proxied)})"
    )
    print(f"  added per call {best_proxied[1] - best_direct[1]:7.1f} ms")


if __name__ == "__main__":
    main()
