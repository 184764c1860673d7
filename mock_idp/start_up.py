"""What ``mock-idp`` does before its first import, so its start to a discovery 200 is shorter
(issue 17: that start is nearly all imports).

- The cyclic collector is paused until the server is about to serve, then start-up's objects
  are frozen (``gc.freeze()``, moved to the permanent generation) and collection resumes for
  what requests make: during the imports it ran young and full collections over objects that
  all live as long as the process (~4% of the instructions to the first discovery 200). The
  sandbox does the same for its own start (mock_idp/gc_pause.py).
- uvicorn's package ``__init__`` is run only when something asks the package for a name: it
  imports ``uvicorn.main``, the command line the mock never uses (``uvicorn.run`` and click,
  with its ~40 options built at import; ~12% of those instructions). ``uvicorn.config`` and
  ``uvicorn.server`` are imported as before; ``uvicorn.Config`` or ``uvicorn.run`` asked of the
  package still work, by running the real ``__init__`` then.
  ``tests/mock_idp/test_start_up.py`` fails once uvicorn stops importing click from its
  ``__init__``: then delete this half.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

from mock_idp import gc_pause


def begin() -> None:
    """Before the mock's first import of uvicorn (and of anything else worth not collecting)."""
    gc_pause.pause()
    if "uvicorn" not in sys.modules:
        # Config and Server are its __init__'s re-exports of these (uvicorn.lifespan imports Config from the package).
        sys.modules["uvicorn"] = _package_run_at_first_use(
            "uvicorn", {"Config": "uvicorn.config", "Server": "uvicorn.server"}
        )


def serving() -> None:
    """Start-up is over: collect again, skipping what start-up made. Safe to call twice."""
    gc_pause.resume()


def _package_run_at_first_use(name: str, re_exports: dict[str, str]) -> ModuleType:
    """Package ``name``, importable below (its path and spec are set) but whose ``__init__``
    runs at the first name asked of it (PEP 562's module ``__getattr__``) other than
    ``re_exports`` (a name -> the submodule it comes from, imported for it instead)."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, name
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def first_use(attribute: str) -> Any:
        if attribute in re_exports:
            return getattr(importlib.import_module(re_exports[attribute]), attribute)
        del package.__dict__["__getattr__"]
        loader.exec_module(package)
        return getattr(package, attribute)

    package.__dict__["__getattr__"] = first_use
    return package
