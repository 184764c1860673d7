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


INTRO_PROXY = (
    "An MCP server behind FastMCP's OAuth proxy: MCP clients register dynamically here, the proxy "
    "uses one pre-registered confidential client upstream, PKCE runs on both legs, and a consent "
    "screen stands between your client and your login."
)
INTRO_NATIVE = (
    "An MCP server without the proxy (native DCR): its metadata names the IdP's realm as the "
    "authorization server, so MCP clients register at the IdP itself, log in there and bring the "
    "IdP's own token, which the server verifies against the realm's keys."
)


# Which registration each known client uses against this sandbox. Third-party clients choose
# for themselves: a URL client_id (CIMD) when they ship a metadata document, else DCR.
REGISTRATION_PROXY = [
    (
        "FastMCP <code>Client</code>",
        "DCR at <code>/register</code>; CIMD with <code>OAuth(client_metadata_url=...)</code>",
    ),
    ("MCP Python SDK", "CIMD with <code>OAuthClientProvider(..., client_metadata_url=...)</code>, else DCR"),
    ("MCP TypeScript SDK", "CIMD when its provider has <code>clientMetadataUrl</code>, else DCR"),
    (
        "pytest plugin <code>mcp_client</code>",
        '<code>registration="dcr"</code> (default) or <code>"cimd"</code> (a loopback document it hosts)',
    ),
    (
        "Claude Code, VS Code, MCP Inspector",
        "CIMD if the client sends a URL client_id (its document must be reachable from this machine over HTTPS), else DCR",
    ),
]


def _registration_rows(mode: str) -> str:
    if mode == "native-dcr":
        return _row("Every client", "DCR at the IdP (no proxy, so no Client ID Metadata Documents)")
    return "".join(_row(client, how) for client, how in REGISTRATION_PROXY)


def _row(label: str, html: str) -> str:
    return f"<tr><th>{label}</th><td>{html}</td></tr>\n"


def render(settings: SandboxSettings, realm: Realm, oauth_config: dict[str, Any]) -> str:
    # The realm file's plain passwords: a sandbox's demo users are meant to be shown.
    rows = "\n".join(
        f"<tr><td>{escape(user.username)}</td><td><code>{escape(user.password or '')}</code></td>"
        f"<td>{escape(', '.join(sorted(user.realm_roles)))}</td></tr>"
        for user in realm.users.values()
        if not user.service_account_client_id
    )
    vscode = json.dumps({"servers": {"sandbox": {"type": "http", "url": settings.mcp_url}}}, indent=2)
    if settings.mode == "native-dcr":
        intro = INTRO_NATIVE
        mode_rows = _row(
            "Client registration", f"at the IdP: <code>{escape(oauth_config['registration_endpoint'])}</code>"
        )
    else:
        intro = INTRO_PROXY
        consent = "shown before every authorization" if settings.consent else "off (--no-consent)"
        mode_rows = _row(
            "Upstream client", f"<code>{escape(oauth_config['upstream_client_id'])}</code> (confidential, PKCE S256)"
        )
        mode_rows += _row("Consent screen", consent)
        mode_rows += _row(
            "Step-up",
            "<code>admin_report</code> needs the scope <code>mcp:admin</code>, which the first authorization does not ask for: "
            "the call answers 403 <code>insufficient_scope</code> naming only that scope, and the client authorizes again "
            "asking for it plus what it had. The user also needs the <code>mcp-admin</code> role (alice has it, bob not).",
        )
    return _TEMPLATE.substitute(
        intro=intro,
        mode=escape(settings.mode),
        mode_rows=mode_rows,
        mcp_url=escape(settings.mcp_url),
        backend=escape(oauth_config["backend"]),
        realm_url=escape(oauth_config["realm_url"]),
        prm_url=escape(oauth_config["protected_resource_metadata"]),
        asm_url=escape(oauth_config["authorization_server_metadata"]),
        user_rows=rows,
        vscode_json=escape(vscode),
        registration_rows=_registration_rows(settings.mode),
    )
