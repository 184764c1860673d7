"""``python -m sandbox`` and the ``mcp-oauth-sandbox`` script.

Ctrl-C ends it quietly with exit 0 at any point, importing included: that is why nothing
but ``sys``, the C ``_signal`` module and the collector switch is imported before the handler
is in place. Whatever had started is stopped on the way out (the CLI's and the app's ``finally``
blocks). tests/sandbox/test_cli.py drops a Ctrl-C the way Python can, and the sandbox still stops.
"""

# The C module under ``signal``: the same handlers, without importing enum (3 ms) before the
# handler is in place. typeshed has no stub for it.
import _signal  # type: ignore[import-not-found]
import sys

from mock_idp import gc_pause


class _Interrupt:
    """Python's Ctrl-C (KeyboardInterrupt), remembering that it came.

    Python drops a KeyboardInterrupt raised inside a finalizer or a weakref callback ("Exception
    ignored in ..."; importlib runs one at the end of every first import). One that lands there
    before uvicorn's handler is in place is lost: start-up goes on and the server serves on.
    ``interrupted`` outlives it; the CLI's server (sandbox/cli.py) honours it once it serves."""

    interrupted = False

    def __call__(self, signum: int, frame: object) -> None:
        self.interrupted = True
        raise KeyboardInterrupt


def run(prog: str = "mcp-oauth-sandbox") -> int:
    # Before the first import: start-up is mostly imports (mock_idp/gc_pause.py says why).
    gc_pause.pause()
    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:  # not where Ctrl-C is ignored
        _signal.signal(_signal.SIGINT, _Interrupt())
    try:
        from sandbox.cli import main

        return main(prog=prog)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(run("python -m sandbox"))
