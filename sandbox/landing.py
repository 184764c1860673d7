"""The landing page: where to connect, who can log in, copy-paste client configurations."""

from __future__ import annotations

import json
from html import escape
from importlib.resources import files
from string import Template
from typing import Any

from sandbox.settings import SandboxSettings

_TEMPLATE = Template((files("sandbox") / "templates" / "landing.html").read_text(encoding="utf-8"))


def demo_users(realm: dict[str, Any]) -> list[dict[str, Any]]:
    """Users of the realm file with their plain password, as a sandbox may show them."""
    users = []
    for user in realm.get("users") or []:
        passwords = [c.get("value") for c in user.get("credentials") or [] if c.get("type") == "password"]
        users.append(
            {
                "username": user.get("username", ""),
                "password": passwords[0] if passwords else "",
                "roles": sorted(user.get("realmRoles") or []),
            }
        )
    return users


def render(settings: SandboxSettings, realm: dict[str, Any], oauth_config: dict[str, Any]) -> str:
    rows = "\n".join(
        f"<tr><td>{escape(u['username'])}</td><td><code>{escape(u['password'])}</code></td>"
        f"<td>{escape(', '.join(u['roles']))}</td></tr>"
        for u in demo_users(realm)
    )
    vscode = json.dumps({"servers": {"sandbox": {"type": "http", "url": settings.mcp_url}}}, indent=2)
    return _TEMPLATE.substitute(
        mcp_url=escape(settings.mcp_url),
        backend=escape(oauth_config["backend"]),
        realm_url=escape(oauth_config["realm_url"]),
        upstream_client_id=escape(oauth_config["upstream_client_id"]),
        consent="shown before every authorization" if settings.consent else "off (--no-consent)",
        prm_url=escape(oauth_config["protected_resource_metadata"]),
        asm_url=escape(oauth_config["authorization_server_metadata"]),
        user_rows=rows,
        vscode_json=escape(vscode),
    )
