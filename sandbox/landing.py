"""The landing page: where to connect, who can log in, copy-paste client configurations."""

from __future__ import annotations

import json
from html import escape
from importlib.resources import files
from string import Template
from typing import Any

from mock_idp import Realm

from sandbox.settings import SandboxSettings

_TEMPLATE = Template((files("sandbox") / "templates" / "landing.html").read_text(encoding="utf-8"))


def render(settings: SandboxSettings, realm: Realm, oauth_config: dict[str, Any]) -> str:
    # The realm file's plain passwords: a sandbox's demo users are meant to be shown.
    rows = "\n".join(
        f"<tr><td>{escape(user.username)}</td><td><code>{escape(user.password or '')}</code></td>"
        f"<td>{escape(', '.join(sorted(user.realm_roles)))}</td></tr>"
        for user in realm.users.values()
        if not user.service_account_client_id
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
