"""Redirect URI matching the way Keycloak does it, and building the redirect back."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit


def is_absolute_uri(uri: str) -> bool:
    parts = urlsplit(uri)
    return bool(parts.scheme and parts.netloc) and not parts.fragment and len(uri) <= 2048


def matches(candidate: str, registered: list[str]) -> bool:
    """Exact match, or prefix match for entries ending in ``*`` (Keycloak's only wildcard)."""
    if not is_absolute_uri(candidate):
        return False
    for pattern in registered:
        if pattern.endswith("*"):
            if candidate.startswith(pattern[:-1]):
                return True
        elif candidate == pattern:
            return True
    return False


def with_params(uri: str, params: dict[str, str], response_mode: str = "query") -> str:
    """Append response parameters in the query (default) or the fragment."""
    encoded = urlencode({k: v for k, v in params.items() if v is not None})
    if response_mode == "fragment":
        return f"{uri}{'&' if '#' in uri else '#'}{encoded}"
    base = uri.split("#", 1)[0]  # registered redirect URIs carry no fragment (RFC 6749 §3.1.2)
    return f"{base}{'&' if '?' in base else '?'}{encoded}"
