"""Start-up: does the upstream answer ``initialize``? If not, say so in one line and stop.

Run before the identity backend starts, so a typo in ``--upstream`` does not cost a
Keycloak boot. It connects with a client of its own (no user, so no identity headers),
on an event loop of its own in a worker thread: ``create_app`` may be called from code
that already runs a loop, and the stdio process it starts must not outlive the check.
"""

from __future__ import annotations

import asyncio
import concurrent.futures

from fastmcp import Client
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport

from sandbox.upstream.failures import failure_cause
from sandbox.upstream.server import UpstreamError, UpstreamTarget


async def _initialize(target: UpstreamTarget) -> str:
    transport: StreamableHttpTransport | StdioTransport
    if target.url:
        transport = StreamableHttpTransport(target.url)
    else:
        command, *args = target.argv()
        transport = StdioTransport(command, args, keep_alive=False, log_file=target.stderr_log)
    client = Client(transport, mode="legacy", timeout=target.timeout, init_timeout=target.timeout)
    try:
        async with asyncio.timeout(target.timeout):
            async with client:
                result = client.initialize_result
    except Exception as exc:
        where = f" (its stderr: {target.stderr_log})" if target.stderr_log else ""
        raise UpstreamError(f"{target.label} did not answer initialize: {failure_cause(target, exc)}{where}") from None
    info = result.server_info if result is not None else None
    return f"{info.name} {info.version}" if info else "an MCP server"


def check_upstream(target: UpstreamTarget) -> str:
    """The upstream's name and version, or ``UpstreamError`` saying why it does not answer."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _initialize(target)).result()
