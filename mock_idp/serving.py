"""How the standalone ``mock-idp`` runs under uvicorn: its settings, and one write per response.

uvicorn (0.54, httptools) writes a response's status line and headers, then its body, as two
``transport.write`` calls: two ``send`` syscalls and two TCP segments for every small answer
(uvloop writes at once, and sets TCP_NODELAY). For the mock's hottest answers (the JWKS,
discovery, tokens) that second syscall was a sixth of the server's CPU per request under wrk.
:class:`OneWritePerResponse` holds the first write until the next one joins it (the body,
in the same loop iteration), a response's end, or the next loop iteration, whichever comes
first, so a streamed answer is never held back longer than that.
``tests/mock_idp/test_standalone_serving.py`` notices when uvicorn itself coalesces the two writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mock_idp.documents import DocumentShortcut

# create_app's keywords, for the workers --workers spawns (each builds its own app from them).
WORKER_SETTINGS = "MOCK_IDP_WORKER_SETTINGS"


class _HeldWrite(asyncio.Transport):
    """A transport that holds one write back until the next write, ``flush()`` or the next
    loop iteration; everything else goes straight to ``transport``."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            joined, self._held = self._held + data, None
            self._transport.write(joined)

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.flush()
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")


class OneWritePerResponse(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing each response's head and body in one syscall."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_HeldWrite(transport, self.loop))

    def on_response_complete(self) -> None:
        held = self.transport
        if isinstance(held, _HeldWrite):  # a response with no body write (HEAD, 204) goes now
            held.flush()
        super().on_response_complete()


def config(app: ASGIApp | str, **options: Any) -> uvicorn.Config:
    """The mock's uvicorn settings. Like Keycloak by default, it names no server in a ``Server``
    header and ignores ``X-Forwarded-*`` (Keycloak honours them only with ``--proxy-headers``;
    the mock's URLs come from its issuer, and the anonymous-registration policy reads the peer).
    ws="none": it serves no WebSocket (nor does Keycloak), and uvicorn's "auto" would import the
    websockets package at start-up for nothing (~25 ms of a ~250 ms cold start)."""
    return uvicorn.Config(
        app,
        http=OneWritePerResponse,
        ws="none",
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,
        server_header=False,
        **options,
    )


def standalone(app: Starlette) -> ASGIApp:
    """``app`` with its documents' shortcut in front of Starlette itself: inside ``create_app``'s
    middleware, a JWKS GET still passes Starlette's entry and error layers, 40% of its in-app CPU
    (0.6 of 1.6 us; the sandbox, which mounts the app, keeps that inner shortcut)."""
    return DocumentShortcut(app, app.state.documents)


def serve(app: Starlette, sock: socket.socket) -> None:
    uvicorn.Server(config(standalone(app))).run(sockets=[sock])


def serve_workers(settings: dict[str, Any], sock: socket.socket, workers: int) -> None:
    """``workers`` processes accepting on ``sock``, each with its own app made from ``settings``:
    uvicorn's supervisor spawns them (a fresh interpreter each, so none inherits the parent's
    Redis connections), restarts one that dies, and stops them all on Ctrl-C or SIGTERM."""
    from uvicorn.supervisors.multiprocess import Multiprocess  # not its package: that imports watchfiles

    os.environ[WORKER_SETTINGS] = json.dumps(settings)
    Multiprocess(config(f"{__name__}:worker_app", factory=True, workers=workers), sockets=[sock]).run()


def worker_app() -> ASGIApp:
    from mock_idp.app import create_app

    return standalone(create_app(**json.loads(os.environ[WORKER_SETTINGS])))
