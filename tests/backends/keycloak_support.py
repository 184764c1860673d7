"""Helpers shared by the Keycloak launcher tests."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_executable(path: Path, script: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + textwrap.dedent(script).lstrip())
    path.chmod(0o755)
    return path
