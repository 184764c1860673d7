"""Ctrl-C at start-up, for ``mock-idp`` and ``python -m sandbox``: remembered, so that one whose
KeyboardInterrupt Python drops still stops the server.

Python drops a KeyboardInterrupt raised inside a weakref callback or a finalizer ("Exception
ignored in ..."), and importlib runs such a callback at the end of every first import: start-up
is imports. Until uvicorn's own handler is in place, Ctrl-C is Python's KeyboardInterrupt, so one
that lands there is lost: start-up goes on and the server serves for ever. :func:`remember`
installs a handler that raises it as Python's does and records that it came; each CLI's uvicorn
(mock_idp/uvicorn_server.py, and the ``--workers`` supervisor) asks for its shutdown once its own
handler is in place. tests/mock_idp/test_ctrl_c.py drops a Ctrl-C that way on purpose.

Only ``_signal`` (the C module under ``signal``) is imported here: the CLIs install the handler
before their first import, and ``signal`` would import enum first (3 ms).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # typeshed has no stub for it


class Remembering:
    """Python's Ctrl-C (KeyboardInterrupt), remembering that it came."""

    came = False

    def __call__(self, signum: int, frame: object) -> None:
        self.came = True
        raise KeyboardInterrupt


def remember() -> None:
    """Put the remembering handler in place of Python's; where Ctrl-C is ignored or handled, nothing."""
    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        _signal.signal(_signal.SIGINT, Remembering())


def remembering() -> Remembering | None:
    """The remembering handler, if it is SIGINT's now. Take it before a server puts its own
    handler in place, and ask it whether a Ctrl-C ``came`` after: one can come in between."""
    handler = _signal.getsignal(_signal.SIGINT)
    return handler if isinstance(handler, Remembering) else None
