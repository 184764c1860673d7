"""Flow-trace cost on the hot path (not a test: it prints figures, it asserts nothing).

`greet` calls/s on one authenticated session (memory store), the sandbox spawned with the
trace on and with `--no-trace`, alternating, best of ROUNDS each.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import warnings

from bench_sandbox import CALLS, greet_rate, sandbox_args, spawned
from fastmcp import Client
from key_value.aio.stores.memory import MemoryStore

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.server import free_port

ROUNDS = 3


def rate(trace: bool) -> float:
    with tempfile.TemporaryDirectory() as state:
        port = free_port()
        args = sandbox_args("mock", port, state, "memory") + ([] if trace else ["--no-trace"])
        with spawned(args, f"http://localhost:{port}/healthz"):
            return asyncio.run(session_rate(f"http://localhost:{port}/mcp"))


async def session_rate(mcp_url: str) -> float:
    """One signed-in session, warmed up by one call, then bench_sandbox's timed calls."""
    auth = HeadlessOAuth(HeadlessBrowser("alice", "alice"), token_storage=MemoryStore())
    async with Client(mcp_url, auth=auth) as client:
        await client.call_tool("greet", {"name": "warm-up"})
        return await greet_rate(client)


def main() -> None:
    warnings.filterwarnings("ignore", message="Using in-memory token storage")
    on, off = [], []
    for _ in range(ROUNDS):
        on.append(rate(True))
        off.append(rate(False))
    best_on, best_off = max(on), max(off)
    print(f"flow trace overhead ({os.cpu_count()} cores, loopback, {CALLS} sequential greet calls, best of {ROUNDS})")
    print(f"  trace on   {best_on:7.0f} calls/s   (runs: {', '.join(f'{r:.0f}' for r in on)})")
    print(f"  trace off  {best_off:7.0f} calls/s   (runs: {', '.join(f'{r:.0f}' for r in off)})")
    print(f"  on / off   {best_on / best_off:7.2f}")


if __name__ == "__main__":
    main()
