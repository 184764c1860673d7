"""`auto`: the container first, and the distribution when the engine cannot run the container.

An engine that answers a ping may still have no image and no registry, or refuse to run the
container; that must not end the start when a JDK could run Keycloak just as well. Failures
that would repeat with the distribution (a port in use, a bad realm file, a Keycloak that
never gets ready) are not retried.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.backends.keycloak.base import KeycloakInfo, KeycloakLauncher, LauncherContext, Progress, no_progress
from sandbox.backends.keycloak.container import ContainerLauncher, ContainerStartError


class ContainerThenDistribution(LauncherContext):
    def __init__(
        self,
        container: ContainerLauncher,
        distribution: Callable[[], KeycloakLauncher],
        distribution_unavailable: Callable[[], str | None],
        progress: Progress | None = None,
    ) -> None:
        self.container = container
        # Made only when the container fails: the launcher kept in reserve.
        self.reserve = distribution
        self._distribution_unavailable = distribution_unavailable
        self.progress = progress or no_progress
        # The launcher that is running (or last tried): the container until it fails to start.
        self.active: KeycloakLauncher = container

    def start(self) -> KeycloakInfo:
        self.active = self.container
        try:
            return self.container.start()
        except ContainerStartError as exc:
            if (reason := self._distribution_unavailable()) is not None:
                raise ContainerStartError(f"{exc}; the distribution cannot run either: {reason}") from None
            self.progress(f"boot: {exc}; falling back to the distribution")
        self.active = self.reserve()
        return self.active.start()

    def stop(self) -> None:
        self.active.stop()
