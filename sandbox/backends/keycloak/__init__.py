"""Run a real Keycloak for the sandbox: in Docker when available, else from its distribution.

with choose_launcher(Path("realms/sandbox.json")) as keycloak:
    print(keycloak.realm_url)  # http://localhost:8080/realms/sandbox
"""

from sandbox.backends.keycloak.base import (
    KEYCLOAK_VERSION,
    KeycloakInfo,
    KeycloakLauncher,
    KeycloakStartError,
)
from sandbox.backends.keycloak.choose import choose_launcher, keycloak_unavailable_reason
from sandbox.backends.keycloak.container import ContainerLauncher, docker_available
from sandbox.backends.keycloak.distribution import DistributionLauncher

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
