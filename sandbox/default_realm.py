"""Where the sandbox's default realm file is, in a module of its own: ``mock-idp`` without
``--realm`` serves it, and reading the path from :mod:`sandbox.settings` would import pydantic
and pydantic-settings into the mock's start-up (~80 ms) for one path."""

from __future__ import annotations

from pathlib import Path

# Package data, so a wheel installed anywhere has it (in a checkout it is a link to
# realms/sandbox.json, the one copy everyone edits).
DEFAULT_REALM_FILE = Path(__file__).resolve().parent / "realms" / "sandbox.json"
