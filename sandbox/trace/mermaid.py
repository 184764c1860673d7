"""One flow as Mermaid ``sequenceDiagram`` text: a request arrow and a response arrow per hop."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sandbox.trace.recorder import Flow

ALIASES = {"client": "C", "browser": "B", "proxy": "P", "idp": "I", "upstream": "U"}


def participant_labels(mode: str) -> dict[str, str]:
    server = "MCP server (no proxy)" if mode == "native-dcr" else "OAuth proxy + MCP server"
    return {
        "client": "MCP client",
        "browser": "Browser",
        "proxy": server,
        "idp": "IdP",
        "upstream": "Upstream MCP server",
    }


def _text(value: str) -> str:
    """Mermaid message text: no line breaks, and the characters its parser reads as syntax escaped."""
    value = " ".join(value.split())
    return value.replace("#", "#35;").replace(";", "#59;").replace("<", "#lt;").replace(">", "#gt;")


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path or url


def _request_label(step: dict[str, Any]) -> str:
    if not step["method"] or step["method"].isdigit():
        return str(step["title"])
    return f"{step['method']} {_path(step['url'])}"


def _response_label(step: dict[str, Any]) -> str:
    label = str(step["status"] or "")
    if step["note"]:
        label = f"{label} {step['note']}".strip()
    return label or step["title"]


def to_mermaid(flow: Flow) -> str:
    labels = participant_labels(flow.mode)
    lines = ["sequenceDiagram", "    autonumber"]
    # The upstream appears only in upstream mode, when a step reaches it.
    shown = ["client", "browser", "proxy", "idp"] + (
        ["upstream"] if any(s.target == "upstream" for s in flow.steps) else []
    )
    lines += [f"    participant {ALIASES[p]} as {_text(labels[p])}" for p in shown]
    for step in (s.to_dict(flow.mode) for s in flow.steps):
        source, target = ALIASES[step["source"]], ALIASES[step["target"]]
        if step["method"] and not step["method"].isdigit():
            lines.append(f"    {source}->>{target}: {_text(_request_label(step))}")
            lines.append(f"    {target}-->>{source}: {_text(_response_label(step))}")
        else:
            lines.append(
                f"    {source}-){target}: {_text(step['title'] + (' · ' + step['note'] if step['note'] else ''))}"
            )
        lines.append(f"    Note over {source},{target}: {_text(step['title'] + ' · ' + step['rfc'])}")
    return "\n".join(lines) + "\n"
