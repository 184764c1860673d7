"""Run a real Keycloak for the sandbox: in Docker when available, else from its distribution.

with choose_launcher(Path("realms/sandbox.json")) as keycloak:
    print(keycloak.realm_url)  # http://localhost:8080/realms/sandbox

The names below are loaded on first use (PEP 562): importing one submodule, such as
``ports`` for the test helpers' ``free_port``, must not load every launcher with it, so a
mock-backend test stack imports none of them (issue 17).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.backends.keycloak.base import (
        KEYCLOAK_VERSION,
        KeycloakInfo,
        KeycloakLauncher,
        KeycloakStartError,
    )
    from sandbox.backends.keycloak.choose import choose_launcher, keycloak_unavailable_reason
    from sandbox.backends.keycloak.container import ContainerLauncher, docker_available
    from sandbox.backends.keycloak.distribution import DistributionLauncher

# Each exported name, and the submodule that defines it.
_HOMES = {
    "KEYCLOAK_VERSION": "base",
    "KeycloakInfo": "base",
    "KeycloakLauncher": "base",
    "KeycloakStartError": "base",
    "choose_launcher": "choose",
    "keycloak_unavailable_reason": "choose",
    "ContainerLauncher": "container",
    "docker_available": "container",
    "DistributionLauncher": "distribution",
}

__all__ = [
    "KEYCLOAK_VERSION",
    "ContainerLauncher",
    "DistributionLauncher",
    "KeycloakInfo",
    "KeycloakLauncher",
    "KeycloakStartError",
    "choose_launcher",
    "docker_available",
    "keycloak_unavailable_reason",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
