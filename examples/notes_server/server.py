"""A small MCP server of your own: notes, where only an ``mcp-admin`` may delete one.

It knows nothing about OAuth flows. Behind the sandbox's proxy every call carries the
signed-in user's upstream token, whose claims ``get_access_token()`` returns.
"""

from __future__ import annotations

import itertools
from typing import Any

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import get_access_token

mcp = FastMCP("Notes")

NOTES: dict[int, dict[str, Any]] = {}
_ids = itertools.count(1)


def _claims() -> dict[str, Any]:
    token = get_access_token()
    return token.claims if token else {}


def _roles(claims: dict[str, Any]) -> set[str]:
    return set(claims.get("realm_access", {}).get("roles", []))


@mcp.tool
def add_note(text: str) -> dict[str, Any]:
    """Add a note, owned by the signed-in user (and filed under their ``team`` claim, if any)."""
    claims = _claims()
    note = {
        "id": next(_ids),
        "text": text,
        "author": claims.get("preferred_username"),
        "team": claims.get("team", "none"),
    }
    NOTES[note["id"]] = note
    return note


@mcp.tool
def delete_note(note_id: int) -> str:
    """Delete a note. Only users with the realm role ``mcp-admin`` may."""
    claims = _claims()
    if "mcp-admin" not in _roles(claims):
        raise ToolError(f"{claims.get('preferred_username')} may not delete notes: the mcp-admin role is required")
    if NOTES.pop(note_id, None) is None:
        raise ToolError(f"no note {note_id}")
    return f"deleted note {note_id}"
