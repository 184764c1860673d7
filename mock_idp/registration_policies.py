"""Keycloak's anonymous client-registration policies, by provider id: ``{providerId: check}``.

Each check sees the request, the policy's config and the metadata, and either refuses the
registration (Keycloak's 403 ``insufficient_scope``, "Policy '<name>' rejected request to
client-registration service. Details: ...") or adjusts the client about to be created. The
realm file's policies whose provider id is not a key here are reported at start-up.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mock_idp.errors import OAuthError

if TYPE_CHECKING:
    from starlette.requests import Request  # only as a type: the realm file is read before Starlette loads

    from mock_idp.idp import IdentityProvider
    from mock_idp.realm import RegistrationPolicy
    from mock_idp.registration_metadata import ClientMetadata

_LOOPBACK_NAMES = {"localhost": {"127.0.0.1", "::1"}}
_URI_FIELDS = ("client_uri", "logo_uri", "policy_uri", "tos_uri", "jwks_uri")
DEFAULT_MAX_CLIENTS = "200"


@dataclass(frozen=True)
class Registration:
    """One registration request, as the policies see it."""

    idp: IdentityProvider
    request: Request
    metadata: ClientMetadata
    client: dict[str, Any]  # the Keycloak client representation about to be stored


Check = Callable[["RegistrationPolicy", Registration], None]


def rejected(policy: RegistrationPolicy, details: str) -> OAuthError:
    return OAuthError(
        "insufficient_scope",
        f"Policy '{policy.name}' rejected request to client-registration service. Details: {details}",
        403,
    )


def host_trusted(host: str, trusted: list[str]) -> bool:
    host = host.lower().strip("[]")
    for entry in trusted:
        entry = entry.lower()
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry or host in _LOOPBACK_NAMES.get(entry, ()):
            return True
    return False


def _sender_trusted(request: Request, trusted: list[str]) -> bool:
    sender = request.client.host if request.client else ""
    try:
        ipaddress.ip_address(sender)
    except ValueError:
        return False
    return host_trusted(sender, trusted)


def trusted_hosts(policy: RegistrationPolicy, registration: Registration) -> None:
    trusted = policy.values("trusted-hosts")
    if policy.flag("host-sending-registration-request-must-match", True) and not _sender_trusted(
        registration.request, trusted
    ):
        raise rejected(policy, "Host not trusted.")
    if policy.flag("client-uris-must-match", True):
        metadata = registration.metadata
        urls = list(metadata.redirect_uris) + [url for name in _URI_FIELDS if (url := getattr(metadata, name))]
        if any(not host_trusted(urlsplit(url).hostname or "", trusted) for url in urls):
            raise rejected(policy, "URI doesn't match any trusted host or trusted domain")


def max_clients(policy: RegistrationPolicy, registration: Registration) -> None:
    limit = int((policy.values("max-clients") or [DEFAULT_MAX_CLIENTS])[0])
    idp = registration.idp
    if len(idp.realm.clients) + len(idp.store.registered_clients) >= limit:
        raise rejected(policy, f"It's allowed to have max {limit} clients per realm")


def consent_required(policy: RegistrationPolicy, registration: Registration) -> None:
    registration.client["consentRequired"] = True


POLICIES: dict[str, Check] = {
    "trusted-hosts": trusted_hosts,
    "max-clients": max_clients,
    "consent-required": consent_required,
}


def apply_policies(registration: Registration) -> None:
    for policy in registration.idp.realm.registration_policies:
        check = POLICIES.get(policy.provider_id)
        if check is not None:  # an unknown provider was reported when the realm loaded
            check(policy, registration)
