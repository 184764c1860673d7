"""Imports run on a fresh thread's shallow call stack, for the plugin's first stack (issue 17).

Why: CPython 3.11 and 3.12 keep a thread's frames in 16 KiB chunks, mapped when a call
needs a new one and unmapped as soon as the call returns below it (CPython gh-142183). A
recursion that keeps crossing one chunk's edge maps and unmaps a chunk on every crossing.
pydantic builds the MCP SDK's ~600 model classes by deep recursion, and at the depth of a
pytest fixture the plugin's first stack did this 18,900 times: ~0.2 s of kernel time
(mmap, munmap, page faults) and ~0.35 s of a 2.0 s start to the first authenticated call.
On a fresh thread the same imports cross 2,300 times. ``python -m sandbox`` imports near
the top of its stack and gains nothing from it (measured), so only the plugin does this.

CPython's fix caches one chunk per thread (gh-142183, merged in March 2026 for 3.14 and
backported to 3.13; 3.13.0 still thrashes); there the thread costs about 0.1 ms.
tests/plugin/test_fresh_thread.py FAILS once the running CPython no longer thrashes; the
plugin may then import where it stands.
"""

from __future__ import annotations

import importlib
import threading


def import_on_fresh_thread(*modules: str) -> None:
    """Import ``modules`` on a new thread and wait; an import's exception is raised here.

    A Ctrl-C while waiting stops the wait, not the thread (Python delivers signals to the main
    thread only). The thread is no daemon: the interpreter stops a daemon thread at exit
    wherever it is, and one stopped inside a native extension's frames can abort the process
    (mock_idp/keys.py met it in OpenSSL's key generation); the exit waits for the imports
    to finish instead, a second or two.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            for module in modules:
                importlib.import_module(module)
        except BaseException as exc:  # re-raised in the caller, where pytest reports it
            failure.append(exc)

    thread = threading.Thread(target=run, name="sandbox-imports")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
