"""An ASGI app built at its first request (the admin API, the master realm's routes, and in the
standalone mock the whole Starlette app behind its documents)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send


class Deferred:
    """An ASGI app built at its first request."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build: Callable[[], ASGIApp] | None = build
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            assert self._build is not None
            self._app, self._build = self._build(), None
        await self._app(scope, receive, send)
