"""Client authentication at the token-family endpoints (RFC 6749 §2.3.1).

Supports ``client_secret_basic`` and ``client_secret_post``; public clients
identify themselves with ``client_id`` alone.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

from mock_idp.errors import OAuthError, invalid_client, invalid_request
from mock_idp.realm import Client

if TYPE_CHECKING:  # only as a type: the standalone mock answers its documents before it loads Starlette
    from starlette.requests import Request

AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization")
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_client() from None  # Keycloak names no cause
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise invalid_client()
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before Base64.
    return unquote(client_id), unquote(secret)


# Keycloak's answer to a known confidential client with a wrong or missing secret, at the
# token and revocation endpoints; introspection words it its own way.
WRONG_SECRET = OAuthError("unauthorized_client", "Invalid client or Invalid client credentials", 401)


def authenticate_client(
    request: Request,
    form: dict[str, str],
    find_client: Callable[[str], Client | None],
    wrong_secret: OAuthError = WRONG_SECRET,
) -> Client:
    """The client making this request, or an ``invalid_client`` error (401)."""
    basic = _basic_credentials(request)
    secret: str | None
    if basic is not None:
        if "client_secret" in form:
            raise invalid_request("Multiple client authentication methods used")
        client_id, secret = basic
        if form.get("client_id", client_id) != client_id:
            raise invalid_request("client_id does not match the authenticated client")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
    client = find_client(client_id) if client_id else None
    if client is None or not client.enabled:
        raise invalid_client()
    if client.public:
        return client
    if secret is None or client.secret is None or not hmac.compare_digest(secret.encode(), client.secret.encode()):
        raise wrong_secret
    return client
