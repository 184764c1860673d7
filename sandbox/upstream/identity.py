"""Identity headers for the upstream: who is signed in, never their token.

The MCP spec forbids passing the client's token through to another server, so the
upstream learns the user from headers the sandbox sets itself (as mcp-oauth2-proxy's
header mutations do). Each header takes its value from the upstream token's claims:

    X-Forwarded-User    preferred_username
    X-Forwarded-Email   email
    X-Forwarded-Roles   roles   (the realm roles, comma-separated)
    X-Forwarded-Scopes  scopes  (the granted scopes, space-separated as in OAuth)

Rules change that set, first from a TOML file, then from ``--upstream-header`` flags:
``NAME=CLAIM`` sets a header (a claim name, dotted for nested claims, or ``roles`` /
``scopes``), ``NAME=`` removes one, ``OLD:NEW`` renames one. Header names cannot
contain ``=`` or ``:``, so the three forms never overlap.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

DEFAULT_HEADERS: dict[str, str] = {
    "X-Forwarded-User": "preferred_username",
    "X-Forwarded-Email": "email",
    "X-Forwarded-Roles": "roles",
    "X-Forwarded-Scopes": "scopes",
}
# RFC 9110 token characters: what a header name may be made of.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Headers whose meaning belongs to the hop or to MCP itself; an identity rule must not forge them.
RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "host",
        "content-length",
        "content-type",
        "accept",
        "connection",
        "transfer-encoding",
        "mcp-session-id",
        "mcp-protocol-version",
        "last-event-id",
    }
)


class HeaderRuleError(ValueError):
    """A header rule that cannot be applied; the message is one line naming it."""


def _check_name(name: str, rule: str) -> str:
    if not _HEADER_NAME.match(name):
        raise HeaderRuleError(f"header rule {rule!r}: {name!r} is not a valid header name")
    if name.lower() in RESERVED_HEADERS:
        raise HeaderRuleError(
            f"header rule {rule!r}: {name} is reserved (the proxy sets it, or it would pass a credential)"
        )
    return name


class IdentityHeaders:
    """Header name -> claim source, after defaults, file and flag rules."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self.mapping: dict[str, str] = dict(DEFAULT_HEADERS if mapping is None else mapping)

    @classmethod
    def from_rules(cls, rules: Iterable[str] = (), file: Path | None = None) -> IdentityHeaders:
        headers = cls()
        if file is not None:
            headers.apply_file(file)
        for rule in rules:
            headers.apply(rule)
        return headers

    def _find(self, name: str) -> str | None:
        return next((key for key in self.mapping if key.lower() == name.lower()), None)

    def set(self, name: str, source: str, rule: str) -> None:
        _check_name(name, rule)
        existing = self._find(name)
        if existing is not None:
            del self.mapping[existing]
        if source:
            self.mapping[name] = source

    def rename(self, old: str, new: str, rule: str) -> None:
        _check_name(new, rule)
        existing = self._find(old)
        if existing is None:
            known = ", ".join(self.mapping) or "none"
            raise HeaderRuleError(f"header rule {rule!r}: there is no header {old!r} to rename (set: {known})")
        source = self.mapping.pop(existing)
        self.set(new, source, rule)

    def apply(self, rule: str) -> None:
        if "=" in rule:
            name, _, source = rule.partition("=")
            self.set(name.strip(), source.strip(), rule)
        elif ":" in rule:
            old, _, new = rule.partition(":")
            self.rename(old.strip(), new.strip(), rule)
        else:
            raise HeaderRuleError(f"header rule {rule!r} must be NAME=CLAIM (set), NAME= (remove) or OLD:NEW (rename)")

    def apply_file(self, path: Path) -> None:
        """``[headers]`` NAME = "CLAIM" (an empty string removes); ``[rename]`` OLD = "NEW"."""
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise HeaderRuleError(f"upstream headers file {path}: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise HeaderRuleError(
                f"upstream headers file {path}: not valid TOML: {' '.join(str(exc).split())}"
            ) from None
        unknown = set(document) - {"headers", "rename"}
        if unknown:
            raise HeaderRuleError(
                f"upstream headers file {path}: unknown table(s) {', '.join(sorted(unknown))} (use [headers] and [rename])"
            )
        for table in ("headers", "rename"):
            entries = document.get(table, {})
            if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
                raise HeaderRuleError(f"upstream headers file {path}: [{table}] must map header names to strings")
        for name, source in document.get("headers", {}).items():
            self.set(name, source, f"{path}: [headers] {name}")
        for old, new in document.get("rename", {}).items():
            self.rename(old, new, f"{path}: [rename] {old}")

    def values(self, claims: Mapping[str, Any], scopes: Iterable[str]) -> dict[str, str]:
        """The headers for one signed-in user; a claim the token lacks sends no header."""
        headers: dict[str, str] = {}
        for name, source in self.mapping.items():
            value = claim_value(claims, scopes, source)
            if value:
                headers[name] = header_safe(value)
        return headers


def claim_value(claims: Mapping[str, Any], scopes: Iterable[str], source: str) -> str:
    if source == "roles":
        roles = claims.get("realm_access", {}).get("roles", []) if isinstance(claims.get("realm_access"), dict) else []
        return ",".join(str(role) for role in roles)
    if source == "scopes":
        return " ".join(scopes)
    value: object = claims
    for part in source.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def header_safe(value: str) -> str:
    """Printable ASCII as it is; anything else (a line break that would forge a header,
    a non-ASCII name) percent-encoded, so a claim can never split or corrupt the request."""
    if all(" " <= char <= "~" for char in value) and "%" not in value:
        return value
    return quote(value, safe=" !#$&'()*+,/:;=?@[]~")
