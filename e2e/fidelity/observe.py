"""An HTTP answer as an observation: what must match between the mock and Keycloak, and nothing else.

Hosts, ports, ids, times and signatures differ on every run and between the two servers;
they become placeholders (``{realm}``, ``{idp}``, ``{loopback}``) or the name of their JSON
type. What a client or a test author can rely on stays verbatim: statuses, error codes and
texts, key sets, claim names, scope and audience values, cookie names and flags, the login
page's forms and messages.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

# Values worth comparing verbatim wherever they appear as a JSON key or claim: the rest are
# ids, times, secrets and signatures, compared by type only.
VERBATIM_KEYS = frozenset(
    {
        "error",
        "error_description",
        "errorMessage",
        "field",
        "active",
        "token_type",
        "typ",
        "azp",
        "aud",
        "iss",
        "scope",
        "preferred_username",
        "username",
        "email",
        "email_verified",
        "given_name",
        "family_name",
        "name",
        "realm_access",
        "resource_access",
        "acr",
        "allowed-origins",
        "nonce",
        "client_id",
        "not-before-policy",
        "token_endpoint_auth_method",
        "grant_types",
        "response_types",
        "redirect_uris",
        "application_type",
        "subject_type",
        "tls_client_certificate_bound_access_tokens",
        "kty",
        "alg",
        "use",
        "e",
        "enabled",
        "firstName",
        "lastName",
        "emailVerified",
        "attributes",
        "requiredActions",
        "clientId",
        "publicClient",
        "protocol",
        "composite",
        "clientRole",
        "realm",
        "type",
        "temporary",
        "client_name",
        "refresh_expires_in",
    }
)
# Keys whose value is a URL, id or time even when listed above in another context.
_URL = re.compile(r"https?://(?:localhost|127\.0\.0\.1)(?::\d+)?[^\s\"'<>]*")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
# Login-page elements whose text is a message to the user.
_MESSAGE_IDS = ("input-error-username", "input-error", "input-error-password", "kc-page-title", "kc-error-message")


@dataclass(frozen=True)
class Places:
    """Where each server lives, so its URLs read the same: ``{realm}``, ``{idp}``, ``{loopback}``."""

    realm_url: str

    @property
    def idp_base(self) -> str:
        return self.realm_url.rsplit("/realms/", 1)[0]

    def url(self, value: str) -> str:
        value = value.replace(self.realm_url, "{realm}").replace(self.idp_base, "{idp}")
        # Whatever loopback address remains is a sandbox or a client: port-free, not host-free.
        return _UUID.sub("<uuid>", re.sub(r"http://(localhost|127\.0\.0\.1):\d+", r"http://\1:{port}", value))

    def text(self, value: str) -> str:
        # Ids are UUIDs on both servers, and new on each run.
        return _UUID.sub("<uuid>", _URL.sub(lambda found: self.url(found.group(0)), value))


def observe(response: httpx.Response, places: Places, *, keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``keep``: further JSON keys whose values this case compares verbatim."""
    observation: dict[str, Any] = {"status": response.status_code}
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    observation["content_type"] = content_type or None
    if "location" in response.headers:
        observation["location"] = location(response.headers["location"], places)
    if "www-authenticate" in response.headers:
        observation["www_authenticate"] = places.text(response.headers["www-authenticate"])
    cookies = set_cookies(response)
    if cookies:
        observation["cookies"] = cookies
    observation["body"] = body(response, places, keep)
    return observation


def body(response: httpx.Response, places: Places, keep: frozenset[str] = frozenset()) -> Any:
    text = response.text
    if not text.strip():
        return ""
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        try:
            return shape(json.loads(text), places, keep)
        except ValueError:
            return {"unparsable_json": True}
    if "html" in content_type:
        return page(text, places)
    return {"text": places.text(" ".join(text.split()))[:200]}


def shape(value: Any, places: Places, keep: frozenset[str] = frozenset(), key: str | None = None) -> Any:
    """A JSON value with ids, times and secrets replaced by their type; JWTs by their claims' shape."""
    verbatim = key is None or key in VERBATIM_KEYS or key in keep
    if isinstance(value, dict):
        return {name: shape(item, places, keep, name) for name, item in sorted(value.items())}
    if isinstance(value, list):
        # Servers list scopes, roles, methods and users in no promised order; a list of names
        # is a set (sandboxes sharing one Keycloak each add their own port-free copy).
        items = [shape(item, places, keep, key) for item in value]
        if all(not isinstance(item, (dict, list)) for item in items):
            items = list({json.dumps(item): item for item in items}.values())
        return sorted(items, key=json.dumps)
    if isinstance(value, str):
        if _JWT.match(value) and (claims := jwt_shape(value, places, keep)) is not None:
            return claims
        if key == "scope":  # a set of names, in no promised order
            return " ".join(sorted(value.split()))
        if verbatim:
            return places.text(value)
        return "<url>" if _URL.fullmatch(value) else "<str>"
    if isinstance(value, bool) or value is None:
        return value
    if key == "refresh_expires_in":  # 0 means an offline token; otherwise seconds, rounded either way
        return 0 if value == 0 else "<int>"
    if verbatim and key not in ("exp", "iat", "auth_time"):
        return value
    return f"<{type(value).__name__}>"


def jwt_shape(token: str, places: Places, keep: frozenset[str] = frozenset()) -> dict[str, Any] | None:
    try:
        header, payload = (json.loads(_b64(part)) for part in token.split(".")[:2])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    header_shape = {
        name: (value if name in ("alg", "typ") else f"<{type(value).__name__}>")
        for name, value in sorted(header.items())
    }
    claims = shape(payload, places, keep)
    if "aud" in payload:
        # One audience or several, Keycloak writes a string for one; sandboxes sharing a
        # Keycloak each add theirs, so compare the distinct normalised values.
        audiences = payload["aud"] if isinstance(payload["aud"], list) else [payload["aud"]]
        claims["aud"] = sorted({places.url(str(item)) for item in audiences})
    if "jti" in payload:
        # Keycloak prefixes the jti with the token's kind (``onrtac:``, ``ofrtac:``...).
        prefix = re.match(r"^([a-z]+):", str(payload["jti"]))
        claims["jti"] = f"{prefix.group(1)}:<str>" if prefix else "<str>"
    return {"jwt": {"header": header_shape, "claims": claims}}


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def location(value: str, places: Places) -> dict[str, Any]:
    parts = urlsplit(value)
    where = places.url(f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else parts.path)
    return {"url": where, "query": _params(parts.query, places), "fragment": _params(parts.fragment, places)}


# Redirect parameters compared by value; the others (code, session_state...) only by presence.
_VERBATIM_PARAMS = frozenset(
    {"error", "error_description", "state", "iss", "response_type", "client_id", "scope", "redirect_uri", "prompt"}
)


def _params(query: str, places: Places) -> dict[str, str]:
    return {
        name: places.text(value) if name in _VERBATIM_PARAMS else "<str>"
        for name, value in sorted(parse_qsl(query, keep_blank_values=True))
    }


def _action(action: str, places: Places) -> str:
    """A form's target, absolute or (as Keycloak writes some) realm-relative."""
    parts = urlsplit(action)
    if parts.netloc:
        return places.url(f"{parts.scheme}://{parts.netloc}{parts.path}")
    realm_path = urlsplit(places.realm_url).path
    return parts.path.replace(realm_path, "{realm}", 1) if parts.path.startswith(realm_path) else parts.path


def set_cookies(response: httpx.Response) -> dict[str, list[str]]:
    """Each cookie set: its attributes (Path, HttpOnly, Secure, SameSite, whether it expires), not its value."""
    cookies: dict[str, list[str]] = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        flags = []
        for attribute in rest.split(";")[1:]:
            label, _, value = attribute.strip().partition("=")
            label = label.lower()
            if label == "path":
                flags.append(f"path={places_path(value)}")
            elif label == "samesite":  # its value is case-insensitive (RFC 6265bis)
                flags.append(f"samesite={value.strip().lower()}")
            elif label in ("httponly", "secure"):
                flags.append(label)
            elif label in ("max-age", "expires"):
                flags.append("expired" if value.strip() in ("0", "-1") or "1970" in value else "expires")
        value = rest.split(";")[0]
        if not value.strip('"'):
            flags.append("empty")
        cookies[name.strip()] = sorted(set(flags))
    return dict(sorted(cookies.items()))


def places_path(path: str) -> str:
    # The mock serves below the sandbox's /idp mount; the realm-relative path is what counts.
    return re.sub(r"^/idp(?=/)", "", path.strip())


class _PageParser(HTMLParser):
    """Forms (ids, methods, field and button names, action path) and the user-facing messages."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.messages: dict[str, str] = {}
        self._capturing: str | None = None
        self._depth = 0
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if self._capturing is not None:
            self._depth += 1
        element_id = attributes.get("id", "")
        if self._capturing is None and (
            element_id in _MESSAGE_IDS or "kc-feedback-text" in attributes.get("class", "")
        ):
            self._capturing, self._depth, self._buffer = element_id or "feedback", 1, []
        if tag == "form":
            self.forms.append(
                {
                    "id": attributes.get("id"),
                    "method": attributes.get("method", "get").lower(),
                    "action": attributes.get("action", ""),
                    "fields": [],
                    "buttons": [],
                }
            )
        elif self.forms and "name" in attributes and tag in ("input", "button", "select", "textarea"):
            kind = "buttons" if tag == "button" or attributes.get("type") == "submit" else "fields"
            self.forms[-1][kind].append(attributes["name"])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if self._capturing is not None:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._capturing is None:
            return
        self._depth -= 1
        if self._depth <= 0:
            text = " ".join("".join(self._buffer).split())
            if text:
                self.messages[self._capturing] = text
            self._capturing = None

    def handle_data(self, data: str) -> None:
        if self._capturing is not None:
            self._buffer.append(data)


def page(text: str, places: Places) -> dict[str, Any]:
    parser = _PageParser()
    parser.feed(text)
    forms = []
    for form in parser.forms:
        action = urlsplit(form["action"])
        forms.append(
            {
                "id": form["id"],
                "method": form["method"],
                "action": _action(form["action"], places),
                "action_params": sorted({name for name, _ in parse_qsl(action.query)}),
                "fields": sorted(set(form["fields"])),
                "buttons": sorted(set(form["buttons"])),
            }
        )
    return {"forms": forms, "messages": {name: places.text(value) for name, value in sorted(parser.messages.items())}}
