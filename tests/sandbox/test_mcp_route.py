"""/mcp straight to the root mount: the scope the router would give, every other path to the router."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from sandbox.mcp_route import McpRoute


class CountedRoute(Route):
    """A route before the root mount that counts how often the router asks it."""

    asked = 0

    def matches(self, scope):  # type: ignore[no-untyped-def]
        CountedRoute.asked += 1
        return super().matches(scope)


async def seen(request: Request) -> JSONResponse:
    scope = request.scope
    return JSONResponse(
        {
            "path": scope["path"],
            "root_path": scope["root_path"],
            "app_root_path": scope.get("app_root_path"),
            "path_params": scope["path_params"],
            # Starlette's request.url_for reads the router set first, the outer app's.
            "router_is_the_outer_one": scope["router"] is OUTER[0].router,
        }
    )


OUTER: list[Starlette] = []


def build(*, fast: bool, earlier: list[Route] | None = None) -> Starlette:
    inner = Starlette(routes=[Route("/mcp", seen, methods=["POST"])])
    app = Starlette(routes=[*(earlier or []), Route("/healthz", lambda r: PlainTextResponse("ok")), Mount("/", inner)])
    if fast:
        app.add_middleware(McpRoute, mcp_path="/mcp", router=app.router)
    OUTER[:] = [app]
    return app


async def post(app: Starlette, path: str = "/mcp") -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        return await client.post(path)


async def test_mcp_gets_the_scope_the_router_would_give():
    fast = (await post(build(fast=True))).json()
    assert fast == (await post(build(fast=False))).json()
    assert fast["router_is_the_outer_one"]


async def test_mcp_skips_the_routes_before_the_root_mount():
    CountedRoute.asked = 0
    app = build(fast=True, earlier=[CountedRoute("/elsewhere", seen)])
    for _ in range(3):
        assert (await post(app)).status_code == 200
    assert CountedRoute.asked == 1  # asked once, at the first call, whether it takes /mcp


async def test_a_route_before_the_root_mount_that_takes_mcp_keeps_it():
    earlier = Route("/mcp", lambda r: PlainTextResponse("earlier"), methods=["POST"])
    app = build(fast=True, earlier=[earlier])
    assert [(await post(app)).text for _ in range(2)] == ["earlier", "earlier"]


async def test_other_paths_go_to_the_router():
    app = build(fast=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        assert (await client.get("/healthz")).text == "ok"
        assert (await client.post("/mcp/")).status_code == 307  # the router's slash redirect, as before


def fastmcp_routes() -> list[str]:
    from fastmcp import FastMCP
    from fastmcp.server.auth import RemoteAuthProvider
    from fastmcp.server.auth.providers.jwt import StaticTokenVerifier

    auth = RemoteAuthProvider(
        token_verifier=StaticTokenVerifier(tokens={}),
        authorization_servers=["http://localhost:1/"],
        base_url="http://localhost:1",
    )
    return [getattr(route, "path", "") for route in FastMCP("x", auth=auth).http_app(path="/mcp").routes]


def test_fastmcp_still_lists_mcp_after_its_auth_routes():
    """mcp_route_first's reason: delete it once this fails (FastMCP lists /mcp first itself)."""
    routes = fastmcp_routes()
    assert routes.index("/mcp") > 0


async def test_the_sandbox_matches_mcp_first_and_still_serves_its_oauth_routes(sandbox):
    mounted = sandbox.running.app.router.routes[-1].app
    assert getattr(mounted.router.routes[0], "path", None) == "/mcp"
    async with httpx.AsyncClient() as http:
        metadata = await http.get(f"{sandbox.base_url}/.well-known/oauth-authorization-server")
    assert metadata.status_code == 200 and metadata.json()["token_endpoint"].endswith("/token")


def test_a_route_that_answers_mcp_keeps_its_place():
    from sandbox.mcp_route import mcp_route_first

    earlier, mcp = Mount("/", routes=[]), Route("/mcp", seen)
    first = Route("/a", seen)
    routes = [first, earlier, mcp]
    mcp_route_first(routes, "/mcp")
    assert routes == [first, earlier, mcp]  # the root mount before it answers /mcp: unchanged
    plain = [Route("/a", seen), mcp]
    mcp_route_first(plain, "/mcp")
    assert plain[0] is mcp
