"""The one place that decides what of a secret a trace may show.

Secrets proper (client secrets, passwords, PKCE verifiers) show nothing but their length;
credentials that are long random strings (tokens, codes) show their first characters so a
learner can follow one value from hop to hop. JWTs are shown decoded (header and claims,
signature cut), never whole.
"""

from __future__ import annotations

import base64
import functools
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from mock_idp.bodies import loads_bounded
from sandbox.copies import fresh

PREFIX = 8
# Nothing of these is shown.
SECRET_NAMES = frozenset(
    {
        "client_secret",
        "password",
        "code_verifier",
        "registration_access_token",
        "client_assertion",
        "assertion",
        "secret",
        "credential",
    }
)
# Long random credentials: the first PREFIX characters are shown.
TOKEN_NAMES = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "code",
        "subject_token",
        "actor_token",
        "device_code",
        "session_code",
    }
)
# IdP session ids are credentials too: the SSO session they name is a login for whoever
# replays them. They appear as ``session_state`` in callbacks, ``sid`` in tokens, and
# (whole) in Keycloak's session cookies; like tokens, only their start is shown.
SESSION_NAMES = frozenset({"session_state", "sid", "session_id", "kc_restart"})
SESSION_PREFIXES = ("keycloak_", "auth_session_id")
HIDDEN_HEADERS = frozenset({"cookie", "set-cookie"})


def hide(value: str) -> str:
    return f"•••• ({len(value)} chars, masked)"


def prefix(value: str) -> str:
    """The start of a token or code; short values (could be guessable) show nothing."""
    if len(value) < 2 * PREFIX + 4:
        return hide(value)
    return f"{value[:PREFIX]}…"


def mask_value(name: str, value: Any) -> Any:
    key = name.lower()
    if not isinstance(value, str):
        return mask_json(value) if isinstance(value, (dict, list)) else value
    # "password" anywhere: Keycloak's update-password form sends password-new and password-confirm.
    if key in SECRET_NAMES or key.endswith("_secret") or "password" in key:
        return hide(value)
    if key in TOKEN_NAMES or key.endswith("_token") or is_session_id(key):
        return prefix(value)
    if "://" in value and "?" in value:
        return mask_url(value)
    return value


def is_session_id(name: str) -> bool:
    key = name.lower()
    return key in SESSION_NAMES or key.startswith(SESSION_PREFIXES)


def mask_params(params: dict[str, Any]) -> dict[str, Any]:
    return {name: mask_value(name, value) for name, value in params.items()}


def mask_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(item) for item in value]
    return value


def mask_url(url: str) -> str:
    """The URL with its query parameters masked by name (masked values are left unencoded)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        masked = mask_value(name, value)
        pairs.append(f"{quote(name)}={masked if masked != value else quote(value, safe='/:@,')}")
    return urlunsplit(parts._replace(query="&".join(pairs)))


def mask_header(name: str, value: str) -> str:
    key = name.lower()
    if key == "authorization":
        scheme, _, credential = value.partition(" ")
        if scheme.lower() == "bearer":
            return f"Bearer {prefix(credential)}"
        if scheme.lower() == "basic":
            user = basic_user(credential)
            return f"Basic {user}:•••• (masked)" if user else f"Basic {hide(credential)}"
        return hide(value)
    if key in HIDDEN_HEADERS:
        parts = value.split(";") if key == "cookie" else value.split(";")[:1]
        names = [part.split("=", 1)[0].strip() for part in parts]
        return f"{', '.join(n for n in names if n)} = •••• (masked)"
    if key == "location":
        return mask_url(value)
    return value


def basic_user(credential: str) -> str | None:
    try:
        return base64.b64decode(credential, validate=True).decode("latin-1").split(":", 1)[0]
    except (ValueError, UnicodeDecodeError):
        return None


def _b64json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    # Bounded: anyone can send a token whose header nests 3000 deep.
    return loads_bounded(base64.urlsafe_b64decode(padded))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Header and claims of a compact JWS, NOT verified; None when it is not one."""
    parts = _decoded_jwt(token)
    # Copies: the decoded dicts are shared by every hop that carries the same token.
    return None if parts is None else (dict(parts[0]), dict(parts[1]))


# Every MCP call carries the same bearer token, decoded twice per hop (correlation, the step).
@functools.lru_cache(maxsize=256)
def _decoded_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    if token.count(".") != 2:
        return None
    head, body, _ = token.split(".")
    try:
        header, claims = _b64json(head), _b64json(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims


def decode_jwt(name: str, token: str) -> dict[str, Any] | None:
    """What a trace shows of a JWT: its header and claims, the signature cut (a copy each step may keep)."""
    return fresh(_shown_jwt(name, token))


# Every MCP call's step shows the same bearer token: masked once, copied per step.
@functools.lru_cache(maxsize=256)
def _shown_jwt(name: str, token: str) -> dict[str, Any] | None:
    parts = jwt_parts(token)
    if parts is None:
        return None
    header, claims = parts
    return {"name": name, "header": header, "claims": mask_json(claims), "signature": "(cut)", "starts": prefix(token)}
