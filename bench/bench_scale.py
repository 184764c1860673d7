"""Scale-out benchmark (issue 16), one run on loopback (not a test: it prints figures, it asserts nothing).

Authenticated `greet` calls/s through nginx, CLIENTS signed-in clients calling at once:
- 1 replica, file store vs 1 replica, Redis store (the store's cost per authenticated call)
- 1 replica vs 2 replicas, both on Redis (what a second replica buys on this machine)
Every set-up is the one e2e/test_replicas.py runs: nginx round-robin, one standalone mock IdP.
Needs redis-server and nginx.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import warnings
from contextlib import ExitStack
from pathlib import Path

from fastmcp import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth  # noqa: E402
from sandbox.testing.redis_server import RedisServer, redis_server_missing  # noqa: E402
from sandbox.testing.replicas import Nginx, Replica, StandaloneIdp, nginx_missing  # noqa: E402
from sandbox.testing.server import free_port  # noqa: E402

CLIENTS = 8
CALLS = 60  # per client


async def calls_per_second(mcp_url: str) -> float:
    auths = [HeadlessOAuth(HeadlessBrowser("alice", "alice")) for _ in range(CLIENTS)]
    async with asyncio.timeout(600):
        clients = [Client(mcp_url, auth=auth, timeout=60) for auth in auths]
        for client in clients:  # sign in first: only the calls are timed
            await client.__aenter__()
            await client.call_tool("greet", {"name": "warm-up"})
        try:

            async def calls(client: Client) -> None:
                for _ in range(CALLS):
                    await client.call_tool("greet", {"name": "bench"})

            started = time.perf_counter()
            await asyncio.gather(*(calls(client) for client in clients))
            return CLIENTS * CALLS / (time.perf_counter() - started)
        finally:
            for client in clients:
                await client.__aexit__(None, None, None)


def measure(root: Path, *, replicas: int, redis: RedisServer | None) -> float:
    port = free_port()
    public_url = f"http://localhost:{port}"
    with ExitStack() as stack:
        idp = StandaloneIdp(root / "idp", public_url)
        idp.start()
        stack.callback(idp.stop)
        store = redis.url if redis else "file"
        servers = [
            Replica(
                f"replica-{n}",
                root / f"replica-{n}",
                public_url=public_url,
                store=store,
                secret=root / "secret",
                idp=idp.url,
            )
            for n in range(replicas)
        ]
        for server in servers:
            server.start()
            stack.callback(server.stop)
        nginx = Nginx(root / "nginx", port, servers)
        nginx.start()
        stack.callback(nginx.stop)
        return asyncio.run(calls_per_second(f"{public_url}/mcp"))


def main() -> None:
    if missing := redis_server_missing() or nginx_missing():
        print(f"bench_scale: not measured: {missing}")  # one line, and the rest of make bench goes on
        return
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        with RedisServer(root / "redis") as redis:
            file_one = measure(root / "file-1", replicas=1, redis=None)
            redis_one = measure(root / "redis-1", replicas=1, redis=redis)
            redis_two = measure(root / "redis-2", replicas=2, redis=redis)
    print(f"scale-out: authenticated greet through nginx, {CLIENTS} clients x {CALLS} calls")
    print(f"  1 replica, file store : {file_one:7.1f} calls/s")
    print(f"  1 replica, Redis store: {redis_one:7.1f} calls/s ({redis_one / file_one:.2f}x the file store)")
    print(f"  2 replicas, Redis     : {redis_two:7.1f} calls/s ({redis_two / redis_one:.2f}x one replica)")


if __name__ == "__main__":
    main()
