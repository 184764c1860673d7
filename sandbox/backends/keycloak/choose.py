"""Pick how to run Keycloak on this machine: a container when an engine answers, else a local distribution."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from sandbox.backends.keycloak.base import KEYCLOAK_VERSION, KeycloakLauncher, KeycloakStartError, Progress
from sandbox.backends.keycloak.cache import cached_home, default_cache_dir, is_distribution
from sandbox.backends.keycloak.container import DEFAULT_NETWORK, ContainerLauncher, docker_available
from sandbox.backends.keycloak.database import PostgresDatabase
from sandbox.backends.keycloak.distribution import DistributionLauncher, keycloak_home_from_env
from sandbox.backends.keycloak.fallback import ContainerThenDistribution
from sandbox.backends.keycloak.java import JavaNotFound, find_jdk
from sandbox.backends.keycloak.maven import find_mvn

Mode = Literal["auto", "container", "distribution"]


def distribution_unavailable_reason(
    version: str = KEYCLOAK_VERSION, keycloak_home: Path | None = None, cache_dir: Path | None = None
) -> str | None:
    """Why the distribution launcher cannot run here, or None if it can."""
    try:
        find_jdk()
    except JavaNotFound as exc:
        return str(exc)
    home = keycloak_home or keycloak_home_from_env()
    if home is not None:
        return None if is_distribution(home) else f"KEYCLOAK_HOME {home} is not a Keycloak distribution"
    if is_distribution(cached_home(cache_dir or default_cache_dir(), version)) or find_mvn() is not None:
        return None
    return "no Keycloak distribution: set KEYCLOAK_HOME, or install Maven (mvn) so it can be downloaded"


def keycloak_unavailable_reason(
    version: str = KEYCLOAK_VERSION,
    keycloak_home: Path | None = None,
    cache_dir: Path | None = None,
    mode: str = "auto",
) -> str | None:
    """One line saying why no Keycloak can be started on this machine with launcher ``mode``
    (SANDBOX_KEYCLOAK_LAUNCHER), or None if one can."""
    if mode == "container":
        return None if docker_available() else "the container launcher needs Docker, but no Docker engine answered"
    if mode == "distribution":
        return distribution_unavailable_reason(version, keycloak_home, cache_dir)
    if docker_available():
        return None
    reason = distribution_unavailable_reason(version, keycloak_home, cache_dir)
    return None if reason is None else f"no Docker engine answered, and {reason}"


def choose_launcher(
    realm_file: Path,
    *,
    port: int = 8080,
    management_port: int = 9000,
    mode: Mode = "auto",
    version: str = KEYCLOAK_VERSION,
    keycloak_home: Path | None = None,
    cache_dir: Path | None = None,
    keep_state: bool = False,
    database: PostgresDatabase | None = None,
    ready_timeout: float = 180.0,
    progress: Progress | None = None,
    network: str = DEFAULT_NETWORK,
) -> KeycloakLauncher:
    if mode not in ("auto", "container", "distribution"):
        raise ValueError(f"unknown Keycloak launch mode {mode!r}")
    # A named distribution, a kept database or a PostgreSQL one only mean something to the
    # distribution launcher: asking for any picks it, rather than Docker ignoring the request. (A
    # container would reach a PostgreSQL on the host's loopback only on the host network.)
    asked = (("--keycloak-home", keycloak_home), ("--keycloak-keep-state", keep_state), ("--keycloak-db", database))
    wants_distribution = [name for name, given in asked if given]
    _refuse_ignored_options(mode, wants_distribution, network)
    # What both launchers are told alike.
    common: dict[str, Any] = dict(
        port=port,
        management_port=management_port,
        version=version,
        cache_dir=cache_dir,
        ready_timeout=ready_timeout,
        progress=progress,
    )

    def distribution() -> DistributionLauncher:
        return DistributionLauncher(
            realm_file, keycloak_home=keycloak_home, keep_state=keep_state, database=database, **common
        )

    if mode == "container" or (mode == "auto" and not wants_distribution and docker_available()):
        container = ContainerLauncher(realm_file, network=network, **common)
        if mode == "container":
            return container
        return ContainerThenDistribution(
            container,
            distribution,
            lambda: distribution_unavailable_reason(version, keycloak_home, cache_dir),
            progress,
        )
    if mode == "auto":
        reason = distribution_unavailable_reason(version, keycloak_home, cache_dir)
        if reason is not None:
            options, plural = " and ".join(wants_distribution), len(wants_distribution) > 1
            why = (
                f"{options} {'need' if plural else 'needs'} the distribution launcher, but"
                if wants_distribution
                else ("no Docker engine answered, and")
            )
            raise KeycloakStartError(f"cannot run Keycloak: {why} {reason}")
    return distribution()


def _refuse_ignored_options(mode: Mode, wants_distribution: list[str], network: str) -> None:
    """An option the chosen launcher would ignore is refused in one line, never silently dropped."""
    options, plural = " and ".join(wants_distribution), len(wants_distribution) > 1
    if {"--keycloak-keep-state", "--keycloak-db"} <= set(wants_distribution):
        raise KeycloakStartError(
            "--keycloak-keep-state and --keycloak-db exclude each other: the database keeps the state"
        )
    if mode == "container" and wants_distribution:
        raise KeycloakStartError(
            f"{options} {'apply' if plural else 'applies'} only to the distribution launcher, not to 'container'"
        )
    if mode == "distribution" and network != DEFAULT_NETWORK:
        raise KeycloakStartError("--keycloak-network applies only to the container launcher, not to 'distribution'")
    if mode == "container" and not docker_available():
        raise KeycloakStartError("Keycloak mode 'container' needs Docker, but no Docker engine answered")
