"""Ctrl-C at start-up, for ``mock-idp`` and ``python -m sandbox``: remembered, so that one whose
KeyboardInterrupt Python drops still stops the server.

Python drops a KeyboardInterrupt raised inside a weakref callback or a finalizer ("Exception
ignored in ..."), and importlib runs such a callback at the end of every first import: start-up
is imports. Until uvicorn's own handler is in place, Ctrl-C is Python's KeyboardInterrupt, so one
that lands there is lost: start-up goes on and the server serves for ever. :func:`remember`
installs a handler that raises it as Python's does and records that it came; each CLI's uvicorn
server asks for its shutdown once its own handler is in place, if :func:`came`.
tests/sandbox/test_cli.py and tests/mock_idp/test_ctrl_c.py drop a Ctrl-C that way on purpose.

Only ``_signal`` (the C module under ``signal``) is imported here: the CLIs install the handler
before their first import, and ``signal`` would import enum first (3 ms).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # typeshed has no stub for it


class _Remembering:
    """Python's Ctrl-C (KeyboardInterrupt), remembering that it came.

    What it cuts short is not reported: the process is on its way out. uvicorn's ``run()`` makes
    its ``serve()`` coroutine and then its event loop; a Ctrl-C between the two leaves a coroutine
    never run, which warns ("never awaited") as the KeyboardInterrupt frees it, before any caller's
    ``except`` could say otherwise.
    """

    came = False

    def __call__(self, signum: int, frame: object) -> None:
        import warnings  # here, not at the top: this module is imported before anything else

        self.came = True
        warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
        raise KeyboardInterrupt


def remember() -> None:
    """Put the remembering handler in place of Python's; where Ctrl-C is ignored or handled, nothing."""
    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        _signal.signal(_signal.SIGINT, _Remembering())


def came() -> bool:
    """Whether a Ctrl-C came while the remembering handler was in place (read it before uvicorn's replaces it)."""
    return bool(getattr(_signal.getsignal(_signal.SIGINT), "came", False))
