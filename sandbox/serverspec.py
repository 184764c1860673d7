"""``module:attr``: the user's own FastMCP server, which the sandbox wraps instead of the sample tools.

``attr`` names a ``FastMCP`` instance, or a callable taking no arguments that returns one
(a factory). Every way this can go wrong is a :class:`ServerSpecError` whose message is
one line naming the cause, for the CLI's stderr and the pytest plugin's usage errors.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from fastmcp import FastMCP

from sandbox.logs import one_line


class ServerSpecError(Exception):
    """A ``module:attr`` server spec that does not lead to a FastMCP server."""


def load_server(spec: str) -> FastMCP:
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise ServerSpecError(f"server spec {spec!r} must look like 'module:attr' (e.g. mypkg.server:mcp)")
    # Like `python -m` and uvicorn: modules in the current directory are importable.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ServerSpecError(f"server spec {spec!r}: no module named {exc.name!r}") from None
        raise ServerSpecError(
            f"server spec {spec!r}: importing {module_name} failed: {one_line(exc, named=False)}"
        ) from None
    except Exception as exc:  # the user's module raised while importing
        raise ServerSpecError(f"server spec {spec!r}: importing {module_name} failed: {one_line(exc)}") from None
    target: object = module
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ServerSpecError(f"server spec {spec!r}: {module_name} has no attribute {attr_path!r}") from None
    if isinstance(target, FastMCP):
        return target
    if callable(target) and not isinstance(target, type):
        try:
            made = target()
        except Exception as exc:
            raise ServerSpecError(f"server spec {spec!r}: calling {attr_path}() failed: {one_line(exc)}") from None
        if isinstance(made, FastMCP):
            return made
        raise ServerSpecError(
            f"server spec {spec!r}: {attr_path}() returned {type(made).__name__}, not a FastMCP server"
        )
    raise ServerSpecError(
        f"server spec {spec!r}: {attr_path} is {_a(type(target).__name__)}, "
        "not a FastMCP server or a function returning one"
    )


def _a(noun: str) -> str:
    """``noun`` with its article: "an int", "a str"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
