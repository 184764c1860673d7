"""``python -m sandbox`` and the ``mcp-oauth-sandbox`` script.

Ctrl-C ends it quietly with exit 0 at any point, importing included: that is why nothing
but ``sys``, the collector switch and the Ctrl-C handler's module is imported before the
handler is in place. Whatever had started is stopped on the way out (the CLI's and the app's
``finally`` blocks).
"""

import sys

from mock_idp import ctrl_c, gc_pause


def run(prog: str = "mcp-oauth-sandbox") -> int:
    # Before the first import: start-up is mostly imports (mock_idp/gc_pause.py says why).
    gc_pause.pause()
    ctrl_c.remember()  # one Python drops still stops it (mock_idp/ctrl_c.py)
    try:
        from sandbox.cli import main

        return main(prog=prog)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(run("python -m sandbox"))
