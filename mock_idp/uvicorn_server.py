"""uvicorn's server as ``mock-idp`` and ``python -m sandbox`` run it: a Ctrl-C whose
KeyboardInterrupt Python dropped during start-up (mock_idp/ctrl_c.py) still stops it."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from uvicorn.server import Server

from mock_idp import ctrl_c


class StoppableServer(Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        came = ctrl_c.came()  # before uvicorn's handler replaces the one that remembers
        with super().capture_signals():
            if came:  # the shutdown that Ctrl-C asked for, now that one can run
                self.handle_exit(signal.SIGINT, None)
            yield
