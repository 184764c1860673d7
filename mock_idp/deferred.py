"""An ASGI app built at its first request (the admin API, the master realm's routes, and in the
standalone mock the whole Starlette app behind its documents)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from mock_idp.documents import send_server_error

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)


class Deferred:
    """An ASGI app built at its first request."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build: Callable[[], ASGIApp] | None = build
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            if self._build is None:  # it failed before: the traceback is in the log once
                await send_server_error(scope, send)
                return
            build, self._build = self._build, None
            try:
                self._app = build()
            except Exception:
                # Before the build was deferred, this failure stopped the start; now it would
                # reach uvicorn (a plain-text 500, a traceback per request). A build that
                # failed once (an install's fault, not the request's) fails again: not retried.
                log.exception("could not build the app for %s; every request it serves answers 500", scope["path"])
                await send_server_error(scope, send)
                return
        await self._app(scope, receive, send)
