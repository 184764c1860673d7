"""uvicorn's server as ``mock-idp`` and ``python -m sandbox`` run it: a Ctrl-C whose
KeyboardInterrupt Python dropped during start-up (mock_idp/ctrl_c.py) still stops it."""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Iterator

from uvicorn._compat import asyncio_run
from uvicorn.server import Server

from mock_idp import ctrl_c


class StoppableServer(Server):
    def run(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn 0.54 makes its serve() coroutine and then imports its loop factory: a Ctrl-C
        # during that import left a coroutine never run, which warned ("never awaited") on the
        # way out. The factory first, then the coroutine.
        loop_factory = self.config.get_loop_factory()
        return asyncio_run(self.serve(sockets=sockets), loop_factory=loop_factory)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        remembering = ctrl_c.remembering()  # before uvicorn's handler replaces it
        with super().capture_signals():
            if remembering is not None and remembering.came:  # the shutdown it asked for, now
                remembering.came = False
                self.handle_exit(signal.SIGINT, None)
            yield
