"""Registration benchmark: the full headless flow with a Client ID Metadata Document vs DCR.

One in-process sandbox (mock backend, memory store), a fresh FastMCP client per flow, first 401
to the first `greet` result (ms, median and min of FLOWS runs each, interleaved so load on the
machine hits both alike). CIMD fetches the loopback document on every lookup (sandbox/cimd.py);
DCR makes one POST /register. Not a test: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from fastmcp import Client
from key_value.aio.stores.memory import MemoryStore

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.testing.cimd import hosted_client_metadata  # noqa: E402
from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth  # noqa: E402
from sandbox.testing.server import IsolatedSettings, free_port, running_sandbox  # noqa: E402
from sandbox.tls import LocalCA  # noqa: E402

FLOWS = 15
DOCUMENT = {
    "client_name": "bench CIMD client",
    "redirect_uris": ["http://localhost:*/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
}


async def one_flow(mcp_url: str, metadata_url: str | None) -> float:
    auth = HeadlessOAuth(
        HeadlessBrowser("alice", "alice"), token_storage=MemoryStore(), client_metadata_url=metadata_url
    )
    started = time.perf_counter()
    async with Client(mcp_url, auth=auth) as client:
        await client.call_tool("greet", {"name": "bench"})
    return (time.perf_counter() - started) * 1000


async def measure(mcp_url: str, metadata_url: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"cimd": [], "dcr": []}
    await one_flow(mcp_url, None)  # warm-up: imports, JWKS, first TLS context
    await one_flow(mcp_url, metadata_url)
    for _ in range(FLOWS):
        times["dcr"].append(await one_flow(mcp_url, None))
        times["cimd"].append(await one_flow(mcp_url, metadata_url))
    return times


def main() -> None:
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory() as state:
        settings = IsolatedSettings(
            port=free_port(), state_dir=Path(state), store="memory", log_level="warning", trace=False
        )
        with (
            running_sandbox(settings) as sandbox,
            hosted_client_metadata(LocalCA(settings.tls_dir), DOCUMENT) as hosted,
        ):
            times = asyncio.run(measure(sandbox.mcp_url, hosted.url))
            fetches = len(hosted.fetches)
    for name in ("dcr", "cimd"):
        print(
            f"full headless flow, {name}: median {statistics.median(times[name]):.1f} ms, min {min(times[name]):.1f} ms ({FLOWS} flows)"
        )
    print(f"document fetches per CIMD flow: {fetches / (FLOWS + 1):.1f}")


if __name__ == "__main__":
    main()
