"""Node 22 for the suites that run JavaScript MCP peers (TS SDK, conformance, server-everything).

`make node` installs it into the checkout's `.tools/node`; these helpers put it first on
PATH so that `npx` and `npm` run under it, not under the machine's own Node.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / ".tools" / "node" / "node_modules" / ".bin"


class NodeMissing(RuntimeError):
    """Node 22 is not installed in the checkout."""


def node22_bin() -> Path:
    """The directory holding Node 22's `node`; raises NodeMissing with the command to run."""
    if not (NODE_BIN / "node").exists():
        raise NodeMissing(f"Node 22 is not installed in {NODE_BIN.parent.parent}: run `make node`")
    return NODE_BIN


def node22_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose PATH finds Node 22 first (npm and npx from the machine then use it)."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = f"{node22_bin()}{os.pathsep}{env.get('PATH', '')}"
    return env


def npx() -> str:
    """The machine's npx; with node22_env() it runs under Node 22."""
    found = shutil.which("npx")
    if found is None:
        raise NodeMissing("npx is not on PATH: install Node.js and npm")
    return found
