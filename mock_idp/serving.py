"""How the standalone ``mock-idp`` runs under uvicorn: its settings, its documents' shortcut
in front of the app, and its protocol (``mock_idp/protocol.py``: one write per response, the
documents answered in the protocol itself)."""

from __future__ import annotations

import json
import os
import signal
import socket
from typing import TYPE_CHECKING, Any

from uvicorn.config import Config

from mock_idp import ctrl_c, start_up
from mock_idp.deferred import Deferred
from mock_idp.documents import DocumentShortcut
from mock_idp.protocol import DocumentsInProtocol
from mock_idp.realms import Realms, open_realms
from mock_idp.uvicorn_server import StoppableServer

if TYPE_CHECKING:
    from starlette.types import ASGIApp

# create_app's keywords, for the workers --workers spawns (each builds its own app from them).
WORKER_SETTINGS = "MOCK_IDP_WORKER_SETTINGS"


def config(app: ASGIApp | str, **options: Any) -> Config:
    """The mock's uvicorn settings. Like Keycloak by default, it names no server in a ``Server``
    header and ignores ``X-Forwarded-*`` (Keycloak honours them only with ``--proxy-headers``;
    the mock's URLs come from its issuer, and the anonymous-registration policy reads the peer).
    ws="none": it serves no WebSocket (nor does Keycloak), and uvicorn's "auto" would import the
    websockets package at start-up for nothing (~25 ms of a ~250 ms cold start)."""
    return Config(
        app,
        http=DocumentsInProtocol,
        ws="none",
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,
        server_header=False,
        **options,
    )


def lazy_standalone(realms: Realms) -> ASGIApp:
    """The standalone mock: its documents' shortcut in front of an app built at the first request
    the shortcut does not answer. Discovery and the JWKS need neither Starlette nor the
    endpoints, which were ~0.25 of the CPU from spawn to the first discovery 200; that first
    other request (a token, a login page) pays for them instead, once."""

    def build() -> ASGIApp:
        from mock_idp.app import app_of

        return app_of(realms)

    return DocumentShortcut(Deferred(build), realms.documents)


def serve(realms: Realms, sock: socket.socket) -> None:
    settings = config(lazy_standalone(realms))
    settings.load()  # uvicorn's protocol and lifespan modules (its loop's comes in run()): start-up's last imports
    start_up.serving()
    StoppableServer(settings).run(sockets=[sock])


def serve_workers(settings: dict[str, Any], sock: socket.socket, workers: int) -> None:
    """``workers`` processes accepting on ``sock``, each with its own app made from ``settings``:
    uvicorn's supervisor spawns them (a fresh interpreter each, so none inherits the parent's
    Redis connections), restarts one that dies, and stops them all on Ctrl-C or SIGTERM."""
    from uvicorn.supervisors.multiprocess import Multiprocess  # not its package: that imports watchfiles

    os.environ[WORKER_SETTINGS] = json.dumps(settings)
    start_up.serving()
    remembering = ctrl_c.remembering()  # before the supervisor's handlers replace it
    supervisor = Multiprocess(config(f"{__name__}:worker_app", factory=True, workers=workers), sockets=[sock])
    if remembering is not None and remembering.came:  # a Ctrl-C Python dropped (mock_idp/ctrl_c.py)
        supervisor.signal_queue.append(signal.SIGINT)
    supervisor.run()


def worker_app() -> ASGIApp:
    return lazy_standalone(open_realms(**json.loads(os.environ[WORKER_SETTINGS])))
