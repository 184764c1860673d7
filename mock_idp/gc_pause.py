"""The cyclic garbage collector, paused while a process starts and told to skip what start-up made
(``mock-idp``, the sandbox, and the pytest plugin's first stack).

Start-up is imports. In the sandbox, FastMCP, the MCP SDK and pydantic build some 600 model classes and leave
~130,000 objects the collector tracks, nearly all of them kept for the process's life. As they
pile up, the collector runs thousands of young collections and several full ones over them,
finding almost nothing to free (about 1,000 objects): 15-20% of the start-up CPU (issue 17).
Nothing at start-up waits on a collection, so it is paused until the app serves; then
``gc.freeze()`` moves what start-up made into the permanent generation, the pattern the ``gc``
documentation gives for a process that forks, so later collections do not walk it either, and
collection resumes for what requests make. Memory stays as it was: reference counting still
frees everything that is not in a cycle.

Only a process that paused it resumes it: ``mock-idp`` (mock_idp/start_up.py) and
``python -m sandbox`` pause before their first import;
``sandbox.cli.main`` called from elsewhere (a test) finds nothing to resume. The pytest plugin
pauses it when pytest registers the plugin and resumes it when its first stack is ready,
frozen, or else, unfrozen, at the end of the first test's setup (sandbox/pytest_plugin.py).
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Stop automatic collections, unless something else already had."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume(*, freeze: bool = True) -> None:
    """Collect again, if :func:`pause` stopped it; safe to call twice.

    ``freeze``: first move every object that exists into the permanent generation, for a
    process whose objects so far are its start-up's. Without it, the next collections walk
    them once, as they would have without the pause.
    """
    global _paused
    if _paused:
        _paused = False
        if freeze:
            gc.freeze()
        gc.enable()
