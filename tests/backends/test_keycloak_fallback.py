from pathlib import Path

import pytest

from sandbox.backends.keycloak.base import KeycloakInfo, KeycloakStartError
from sandbox.backends.keycloak.container import ContainerStartError
from sandbox.backends.keycloak.fallback import ContainerThenDistribution

INFO = KeycloakInfo("http://localhost:1/realms/sandbox", "http://localhost:1", "admin", "admin", Path("kc.log"))


class FakeLauncher:
    def __init__(self, fails_with: Exception | None = None) -> None:
        self.fails_with = fails_with
        self.started = 0
        self.stopped = 0

    def start(self) -> KeycloakInfo:
        self.started += 1
        if self.fails_with is not None:
            raise self.fails_with
        return INFO

    def stop(self) -> None:
        self.stopped += 1


def fallback(container: FakeLauncher, distribution: FakeLauncher, unavailable: str | None = None, said=None):
    return ContainerThenDistribution(
        container, lambda: distribution, lambda: unavailable, (said if said is not None else []).append
    )  # type: ignore[arg-type]


def test_a_container_that_starts_is_used() -> None:
    container, distribution = FakeLauncher(), FakeLauncher()
    with fallback(container, distribution) as info:
        assert info is INFO
    assert (container.started, container.stopped, distribution.started) == (1, 1, 0)


def test_a_container_the_engine_cannot_run_falls_back_to_the_distribution() -> None:
    container = FakeLauncher(
        ContainerStartError("container quay.io/keycloak/keycloak:26.7.3 failed to start: ImageNotFound")
    )
    distribution, said = FakeLauncher(), []
    launcher = fallback(container, distribution, said=said)
    assert launcher.start() is INFO
    assert launcher.active is distribution
    assert said == [
        "boot: container quay.io/keycloak/keycloak:26.7.3 failed to start: ImageNotFound; falling back to the distribution"
    ]
    launcher.stop()
    assert distribution.stopped == 1


def test_without_a_distribution_both_causes_are_named() -> None:
    container = FakeLauncher(ContainerStartError("container x failed to start: ImageNotFound (log: kc.log)"))
    with pytest.raises(ContainerStartError) as raised:
        fallback(container, FakeLauncher(), unavailable="no JDK 17+ found").start()
    assert str(raised.value) == (
        "container x failed to start: ImageNotFound (log: kc.log); the distribution cannot run either: no JDK 17+ found"
    )


def test_failures_the_distribution_would_repeat_are_not_retried() -> None:
    container = FakeLauncher(KeycloakStartError("port 8080 is already in use"))
    distribution = FakeLauncher()
    with pytest.raises(KeycloakStartError, match="port 8080"):
        fallback(container, distribution).start()
    assert distribution.started == 0
