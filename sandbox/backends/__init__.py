"""Identity backends: where the proxy's upstream realm comes from.

A backend turns the realm file into a running realm and says how to reach it. The
mock runs inside the sandbox's own app (mounted at ``/idp``); Keycloak runs beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import ASGIApp


def discovery_url(realm_url: str) -> str:
    """The realm's OpenID Connect discovery document (the same path on the mock and on Keycloak)."""
    return f"{realm_url}/.well-known/openid-configuration"


class BackendError(Exception):
    """The backend cannot provide a realm; the message is one line naming the cause."""


@dataclass(frozen=True)
class Upstream:
    """What the OAuth proxy needs to know about the realm it fronts."""

    realm_url: str
    # Handed in when the IdP is in-process and cannot yet answer HTTP discovery.
    discovery: dict[str, Any] | None = None

    @property
    def discovery_url(self) -> str:
        return discovery_url(self.realm_url)


class Backend(Protocol):
    name: str
    # An ASGI app to mount inside the sandbox, and where; None when the IdP runs elsewhere.
    mount: tuple[str, ASGIApp] | None

    def start(self) -> Upstream: ...

    def stop(self) -> None: ...
