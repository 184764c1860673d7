"""Redirect URI matching by Keycloak 26.7's rules (its ``RedirectUtils``), and building the redirect back.

A raw string prefix is not enough: ``http://localhost:*`` would then accept
``http://localhost:1@evil.example/cb`` (user-info, so the host is evil.example) and
``http://localhost:1/../x`` (a traversal out of the registered path). Keycloak parses the
candidate as ``java.net.URI`` does and then decides:

* a candidate that does not parse (a space, ``|``, a bad ``%`` escape, two ``#``...) never matches;
* a candidate whose query carries an OAuth response parameter (``code``, ``state``, ``iss``,
  ``error``...) never matches, against parameter pollution;
* a registered ``*`` alone matches anything http(s);
* a registered entry ending in ``*`` (without ``?`` or ``#``) is a prefix of the candidate
  with its query (or else its fragment) cut off, and only when the candidate has no
  user-info, an authority that parses as host[:port], and no ``..`` segment in its path,
  however encoded (``%2e``, ``%252e``; ``/``, ``\\``, ``%2f``, ``%5c`` as separators);
* any other entry matches byte for byte (no case folding, no normalisation);
* a scheme other than http(s) matches only an entry that starts with that scheme;

Not implemented, each refusing more than Keycloak, never less: wildcard-host entries
(``https://*.example.com/*`` match only themselves), relative entries resolved against the
client's root URL, and the retry of a loopback candidate with port 80.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

# Keycloak's FORBIDDEN_OIDC_PARAMS, compared in lower case.
FORBIDDEN_QUERY_PARAMS = frozenset(
    {
        "code",
        "id_token",
        "access_token",
        "token_type",
        "expires_in",
        "state",
        "iss",
        "error",
        "error_description",
        "session_state",
        "response",
        "kc_action",
        "kc_action_status",
    }
)
MAX_LENGTH = 2048

_ASCII_ALLOWED = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+\]")
# Keycloak's UNSAFE_PATH_PATTERN: a parent segment, raw or (doubly) encoded.
_UNSAFE_PATH = re.compile(
    r"(/|%2[fF]|%5[cC]|\\)(%2[eE]|%252[eE]|\.){2}(/|%2[fF]|%5[cC]|\\|;|%3[bB]|%09|%0[aAdD]|%00|$)"
)


@dataclass(frozen=True)
class ParsedUri:
    """The parts of a URI that the matching rules look at, as ``java.net.URI`` reports them."""

    scheme: str | None
    authority: str | None
    userinfo: str | None
    host: str | None  # None: the authority did not parse as [user-info@]host[:port]
    port: str | None
    path: str | None
    query: str | None
    fragment: str | None


def _legal_characters(uri: str) -> bool:
    for char in uri:
        if char.isascii():
            continue
        # java.net.URI's "other" category: any non-ASCII character but spaces and controls.
        if unicodedata.category(char) in {"Zs", "Zl", "Zp", "Cc"}:
            return False
    ascii_only = "".join(char for char in uri if char.isascii())
    return _ASCII_ALLOWED.fullmatch(ascii_only) is not None and _BAD_ESCAPE.search(uri) is None


def _server_authority(authority: str) -> tuple[str | None, str, str | None] | None:
    """(user-info, host, port) when ``authority`` is server-based, else ``None`` (Java's registry-based)."""
    before, at, hostport = authority.rpartition("@")
    userinfo = before if at else None
    if userinfo is not None and "@" in userinfo:
        return None
    if hostport.startswith("["):
        host, _, rest = hostport.partition("]")
        host += "]"
        if not _IPV6.fullmatch(host) or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] if rest else None
    else:
        host, colon, port_text = hostport.partition(":")
        port = port_text if colon else None
        if not _HOSTNAME.fullmatch(host):
            return None
    if port is not None and not port.isdigit() and port != "":
        return None
    return userinfo, host, port or None


def parse(uri: str) -> ParsedUri | None:
    """``uri`` split as ``java.net.URI.create`` would, or ``None`` where that would throw."""
    if not uri or len(uri) > MAX_LENGTH or not _legal_characters(uri):
        return None
    rest, hash_sign, fragment = uri.partition("#")
    if "#" in fragment:
        return None
    rest, question, query = rest.partition("?")
    scheme = None
    head = re.match(r"([^/?#]*?):", rest)
    if head:
        if not _SCHEME.fullmatch(head.group(1)):
            return None
        scheme, rest = head.group(1), rest[head.end() :]
        if not rest.startswith("/"):
            # Opaque (mailto:, javascript:): no authority or path to speak of.
            if not rest and not question:
                return None
            return ParsedUri(scheme, None, None, None, None, None, None, fragment if hash_sign else None)
    authority = None
    if rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
    if "[" in rest or "]" in rest or "[" in query or "]" in query:
        return None
    userinfo = host = port = None
    if authority:
        server = _server_authority(authority)
        if server is not None:
            userinfo, host, port = server
    return ParsedUri(
        scheme,
        authority or None,
        userinfo,
        host,
        port,
        rest,
        query if question else None,
        fragment if hash_sign else None,
    )


def _wildcards_allowed(uri: ParsedUri) -> bool:
    unparsed_authority = uri.authority is not None and uri.host is None
    return uri.userinfo is None and not unparsed_authority and not (uri.path and _UNSAFE_PATH.search(uri.path))


def _polluted(uri: ParsedUri) -> bool:
    if not uri.query:
        return False
    return any(name.lower() in FORBIDDEN_QUERY_PARAMS for name, _ in parse_qsl(uri.query, keep_blank_values=True))


def _wildcard_prefix(pattern: str) -> str | None:
    """The prefix a wildcard entry stands for, or ``None`` when it is matched exactly."""
    if not pattern.endswith("*") or "?" in pattern or "#" in pattern:
        return None
    _scheme, sep, rest = pattern.partition("://")
    if sep and "/" not in rest and not rest.endswith(":*") and rest != "*":
        # An authority-only entry (``http://host*``) is widened to its path: ``http://host/*``.
        pattern = f"{pattern[:-1]}/*"
    return pattern[:-1]


def _matches_one(pattern: str, candidate: str, wildcards: bool) -> bool:
    if pattern == "*":
        return True
    prefix = _wildcard_prefix(pattern) if wildcards else None
    if prefix is None:
        return pattern == candidate
    cut = candidate.find("?")
    if cut == -1:
        cut = candidate.find("#")
    stripped = candidate if cut == -1 else candidate[:cut]
    if stripped.startswith(prefix):
        return True
    return len(prefix) > 1 and prefix.endswith("/") and stripped == prefix[:-1]


def matches(candidate: str, registered: list[str]) -> bool:
    """Does ``candidate`` match one of a client's ``registered`` redirect URIs, by Keycloak's rules?"""
    uri = parse(candidate)
    if uri is None or not registered or _polluted(uri):
        return False
    wildcards = _wildcards_allowed(uri)
    found = next((pattern for pattern in registered if _matches_one(pattern, candidate, wildcards)), None)
    if found is None or uri.scheme is None:
        return False  # relative redirect URIs (resolved against a root URL) are not implemented
    return found.startswith(f"{uri.scheme}:") or uri.scheme.lower() in {"http", "https"}


def is_absolute_uri(uri: str) -> bool:
    """A redirect URI a client may register: absolute, parseable, no fragment (RFC 6749 §3.1.2)."""
    parsed = parse(uri)
    return parsed is not None and parsed.scheme is not None and parsed.authority is not None and parsed.fragment is None


def with_params(uri: str, params: Mapping[str, str | None], response_mode: str = "query") -> str:
    """Append response parameters in the query (default) or the fragment, as Keycloak does.

    A fragment the client put in its redirect URI stays where it was: after the query in
    query mode, and in front of the parameters in fragment mode."""
    encoded = urlencode({k: v for k, v in params.items() if v is not None})
    if response_mode == "fragment":
        return f"{uri}{'&' if '#' in uri else '#'}{encoded}"
    base, hash_sign, fragment = uri.partition("#")
    return f"{base}{'&' if '?' in base else '?'}{encoded}{hash_sign}{fragment}"
