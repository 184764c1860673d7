"""``/mcp`` goes straight to FastMCP's app, not through the outer app's router.

Every MCP call is a POST to ``/mcp``, served by FastMCP's app under the root mount. The
outer Starlette app would first pass it through its exception middleware (whose handlers
never see it: FastMCP's app has its own) and match it against every route before the root
mount. This ASGI layer, innermost of the sandbox's own middleware (so every one of them,
from the rebinding guard to the step-up gate, still runs for ``/mcp``), matches ``/mcp``
against the root mount alone and hands it over as the router would: the same scope keys
(``router``, ``route``, the mount's ``root_path`` and ``path_params``), the same app.
Any other path goes on to the router.

Inside FastMCP's app, :func:`mcp_route_first` does the same for its own router: FastMCP
4.2.3 appends the ``/mcp`` route after the auth provider's OAuth routes
(server/http.py, ``create_streamable_http_app``), so every MCP call was matched against
each of them first. Together the two were ~18 route matches per call.
tests/sandbox/test_mcp_route.py FAILS once FastMCP lists ``/mcp`` first itself; delete
``mcp_route_first`` then.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class McpRoute:
    def __init__(self, app: ASGIApp, *, mcp_path: str, router: Router) -> None:
        self.app = app
        self.mcp_path = mcp_path
        self.router = router
        self.checked = False
        self.root_mount: Mount | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.mcp_path:
            await self.app(scope, receive, send)
            return
        mount = self.root_mount if self.checked else self._root_mount_for(scope)
        match, child_scope = mount.matches(scope) if mount is not None else (Match.NONE, {})
        if mount is None or match is not Match.FULL:
            await self.app(scope, receive, send)
            return
        scope.setdefault("router", self.router)
        scope["route"] = mount
        scope.update(child_scope)
        await mount.app(scope, receive, send)

    def _root_mount_for(self, scope: Scope) -> Mount | None:
        """The route the router would pick for ``/mcp``, if it is the root mount (checked once,
        at the first call: the routes are complete by then); else the router keeps ``/mcp``."""
        *before, last = self.router.routes
        routed_before = any(route.matches(scope)[0] is not Match.NONE for route in before)
        self.root_mount = last if isinstance(last, Mount) and last.path == "" and not routed_before else None
        self.checked = True
        return self.root_mount


def mcp_route_first(routes: list[BaseRoute], mcp_path: str) -> None:
    """Move FastMCP's ``mcp_path`` route to the front of ``routes``, where no route before it
    answers that path (any method): then the move changes no answer, only the matching."""
    probe: Scope = {"type": "http", "path": mcp_path, "root_path": "", "method": "POST"}
    for index, route in enumerate(routes):
        if isinstance(route, Route) and route.path == mcp_path:
            routes.insert(0, routes.pop(index))
            return
        if route.matches(probe)[0] is not Match.NONE:
            return  # an earlier route answers it: FastMCP's order decides
