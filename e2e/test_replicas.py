"""Two sandbox replicas behind nginx (round-robin, no sticky sessions), sharing one Redis.

Each flow records which replica answered each of its hops (the ``X-Sandbox-Replica``
header), so "every flow spread over both replicas" is read from the answers themselves.
The replicas embed the mock IdP on the same Redis, so the IdP's hops (the login page, the
login POST, its token endpoint) are balanced as well as the proxy's.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from fastmcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR

from sandbox.replica import REPLICA_HEADER
from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.options import sandbox_backend
from sandbox.testing.redis_server import RedisServer, redis_server_missing
from sandbox.testing.replicas import Nginx, Replica, nginx_missing
from sandbox.testing.server import free_port

FLOWS = 50
USERS = ("alice", "bob")
# Every wait is bounded: a hung flow fails the test instead of hanging the suite.
FLOW_TIMEOUT_SECONDS = 240.0
RUN_TIMEOUT_SECONDS = 600.0
CALL_TIMEOUT_SECONDS = 60.0
# A flow greets again until its hops have reached both replicas, at most this many times.
MAX_EXTRA_CALLS = 12

_flow: contextvars.ContextVar[int | None] = contextvars.ContextVar("replica_test_flow", default=None)


@dataclass
class Stack:
    public_url: str
    redis: RedisServer
    replicas: list[Replica]
    # flow number -> the replicas that answered its hops
    seen: defaultdict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    hops: defaultdict[int, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def mcp_url(self) -> str:
        return f"{self.public_url}/mcp"

    def heal(self) -> None:
        """Whatever a test stopped is running again, for the next test."""
        if self.redis.process is None:
            self.redis.start()
        for replica in self.replicas:
            if not replica.alive:
                replica.start()


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if missing := redis_server_missing() or nginx_missing():
        pytest.skip(missing)
    if sandbox_backend(request.config) == "keycloak":
        pytest.skip("replicas embed the mock IdP on the shared Redis; the session's Keycloak is not used here")
    root = tmp_path_factory.mktemp("replicas")
    port = free_port()
    public_url = f"http://localhost:{port}"
    redis = RedisServer(root / "redis")
    options = {"public_url": public_url, "store": redis.url, "secret": root / "shared-secret"}
    replicas = [Replica(f"replica-{n}", root / f"replica-{n}", **options) for n in (1, 2)]
    nginx = Nginx(root / "nginx", port, replicas)
    try:
        redis.start()
        for replica in replicas:
            replica.start()
        nginx.start()
        yield Stack(public_url, redis, replicas)
    finally:
        for process in (nginx, *replicas):
            process.stop()
        redis.stop()


@pytest.fixture
def running(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The stack, healed, with every HTTP answer's replica recorded against the flow that got it."""
    stack.heal()
    stack.seen.clear()
    stack.hops.clear()
    # The headless browser speaks httpx, the MCP SDK's client httpx2 (its own fork).
    for client_class in (httpx.AsyncClient, httpx2.AsyncClient):
        monkeypatch.setattr(client_class, "_send_single_request", recording(stack, client_class._send_single_request))
    yield stack
    stack.heal()


def recording(stack: Stack, send: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def send_and_record(client: Any, request: Any) -> Any:
        response = await send(client, request)
        flow = _flow.get()
        if flow is not None:
            replica = response.headers.get(REPLICA_HEADER)
            stack.hops[flow].append(f"{request.method} {request.url.path} {replica}")
            if replica:
                stack.seen[flow].add(replica)
        return response

    return send_and_record


@dataclass
class Flow:
    number: int
    user: str
    greetings: list[str] = field(default_factory=list)
    auth: HeadlessOAuth | None = None
    error: BaseException | None = None

    @property
    def tokens(self) -> Any:
        return self.auth.context.current_tokens if self.auth else None

    @property
    def client_id(self) -> str | None:
        info = self.auth.context.client_info if self.auth else None
        return info.client_id if info else None


async def run_flow(
    stack: Stack, number: int, *, between: Callable[[Flow], Awaitable[bool]] | None = None, calls: int = 1
) -> Flow:
    """Register, log in, greet ``calls`` times (more until both replicas answered), as ``_flow`` ``number``."""
    _flow.set(number)
    flow = Flow(number, USERS[number % len(USERS)])
    flow.auth = HeadlessOAuth(HeadlessBrowser(flow.user, flow.user))
    try:
        async with Client(stack.mcp_url, auth=flow.auth, timeout=CALL_TIMEOUT_SECONDS) as client:
            for call in range(calls + MAX_EXTRA_CALLS):
                if call >= calls and len(stack.seen[number]) >= len(stack.replicas):
                    break
                result = await client.call_tool("greet", {"name": f"flow {number}"})
                flow.greetings.append(str(result.data))
                if between is not None and not await between(flow):
                    break
    except Exception as exc:  # recorded: the test decides which failures are acceptable
        flow.error = exc
    return flow


async def run_flows(stack: Stack, count: int, **options: Any) -> list[Flow]:
    tasks = [asyncio.wait_for(run_flow(stack, n, **options), FLOW_TIMEOUT_SECONDS) for n in range(count)]
    return await asyncio.wait_for(asyncio.gather(*tasks), RUN_TIMEOUT_SECONDS)


def assert_own_user(flow: Flow) -> None:
    """No cross-talk: every greeting names the flow's own user."""
    assert flow.greetings, f"flow {flow.number} greeted nobody: {flow.error!r}"
    for greeting in flow.greetings:
        assert f"Hello, flow {flow.number}! You are signed in as {flow.user} " in greeting


async def assert_still_valid(stack: Stack, flows: list[Flow]) -> None:
    """Every acknowledged registration and token works: the access token at /mcp, and the
    refresh token at /token for the client that registered (which needs the registration)."""
    async with httpx.AsyncClient(base_url=stack.public_url, timeout=CALL_TIMEOUT_SECONDS) as http:
        for flow in flows:
            tokens = flow.tokens
            call = await http.post(
                "/mcp",
                headers={
                    "Authorization": f"Bearer {tokens.access_token}",
                    "Accept": "application/json, text/event-stream",
                },
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            )
            assert call.status_code == 200, (flow.number, call.status_code, call.text[:300])
            refreshed = await http.post(
                "/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": tokens.refresh_token,
                    "client_id": flow.client_id,
                },
            )
            assert refreshed.status_code == 200, (flow.number, refreshed.text[:300])


def clear_failure(error: BaseException) -> bool:
    """A flow cut by a dying replica or Redis may fail, but with an error that says so: a JSON-RPC
    error from the MCP client (nginx's 502 for the request the dead replica held), an OAuth one,
    or a body cut short after its head was sent (nginx closes the client's connection, and the
    Content-Length framing tells the client the answer is incomplete, never a silently short one)."""
    if isinstance(error, MCPError) and error.error.code == INTERNAL_ERROR:
        return True
    text = f"{type(error).__name__}: {error}"
    signs = ("502", "503", "temporarily_unavailable", "invalid_grant", "without sending complete message body")
    return any(sign in text for sign in signs)


async def test_fifty_concurrent_flows_spread_over_both_replicas_without_cross_talk(running: Stack):
    flows = await run_flows(running, FLOWS)
    for flow in flows:
        assert flow.error is None, f"flow {flow.number}: {flow.error!r}"
        assert_own_user(flow)
        assert running.seen[flow.number] == {replica.address for replica in running.replicas}, (
            flow.number,
            len(flow.greetings),
            running.hops[flow.number],
        )
    # The embedded IdP's hops are balanced too: its login reached both replicas over the run.
    idp_replicas = {hop.split()[-1] for hops in running.hops.values() for hop in hops if " /idp/" in hop}
    assert idp_replicas == {replica.address for replica in running.replicas}, idp_replicas
    await assert_still_valid(running, flows)


async def test_kill_9_of_one_replica_loses_no_acknowledged_registration_or_token(running: Stack):
    victim = running.replicas[0]
    greeted = asyncio.Event()
    count = 20

    async def until_killed(flow: Flow) -> bool:
        greeted.set()
        await asyncio.sleep(0.2)
        return victim.alive or len(flow.greetings) < 3  # keep calling across the kill

    async def kill_once_flows_are_under_way() -> None:
        await asyncio.wait_for(greeted.wait(), FLOW_TIMEOUT_SECONDS)
        await asyncio.sleep(1.0)  # others are mid-login, mid-token, mid-call
        victim.kill()

    killer = asyncio.ensure_future(kill_once_flows_are_under_way())
    flows = await run_flows(running, count, between=until_killed, calls=3)
    await killer
    assert not victim.alive
    for flow in flows:
        if flow.error is not None:
            assert clear_failure(flow.error), f"flow {flow.number}: {flow.error!r}"
        else:
            assert_own_user(flow)
    finished = [flow for flow in flows if flow.error is None]
    assert len(finished) >= count // 2, [repr(flow.error) for flow in flows]
    # Every token acknowledged, on either replica, before or after the kill (the failed flows' too) still works.
    await assert_still_valid(running, [flow for flow in flows if flow.tokens is not None])


async def test_a_rolling_restart_of_both_replicas_loses_nothing(running: Stack):
    before = await run_flows(running, 6)
    restarted = asyncio.Event()

    async def until_restarted(flow: Flow) -> bool:
        await asyncio.sleep(0.3)
        return not restarted.is_set()

    async def roll() -> None:
        for replica in running.replicas:
            await asyncio.to_thread(replica.stop)  # SIGTERM: in-flight requests finish
            await asyncio.to_thread(replica.start)
        restarted.set()

    roller = asyncio.ensure_future(roll())
    during = await run_flows(running, 6, between=until_restarted)
    await asyncio.wait_for(roller, RUN_TIMEOUT_SECONDS)
    for flow in before + during:
        assert flow.error is None, f"flow {flow.number}: {flow.error!r}"
        assert_own_user(flow)
    await assert_still_valid(running, before + during)


async def test_a_redis_restart_mid_run_is_survived(running: Stack):
    before = await run_flows(running, 4)
    restarted = asyncio.Event()

    async def until_restarted(flow: Flow) -> bool:
        await asyncio.sleep(0.2)
        return not restarted.is_set()

    async def restart_redis() -> None:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(running.redis.restart)
        restarted.set()

    restarter = asyncio.ensure_future(restart_redis())
    during = await run_flows(running, 6, between=until_restarted)
    await asyncio.wait_for(restarter, RUN_TIMEOUT_SECONDS)
    for flow in during:
        if flow.error is not None:
            assert clear_failure(flow.error), f"flow {flow.number}: {flow.error!r}"
        else:
            assert_own_user(flow)
    after = await run_flows(running, 2)
    assert all(flow.error is None for flow in after), [repr(flow.error) for flow in after]
    await assert_still_valid(running, before + after + [flow for flow in during if flow.error is None])


def test_nginx_is_what_the_flows_went_through(running: Stack, tmp_path: Path):
    """The header is the replicas' own: each one, asked directly, names itself."""
    for replica in running.replicas:
        answer = httpx.get(f"http://localhost:{replica.port}/healthz", timeout=CALL_TIMEOUT_SECONDS)
        assert answer.headers[REPLICA_HEADER] == replica.address
