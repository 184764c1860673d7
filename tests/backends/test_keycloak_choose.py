from pathlib import Path

import pytest

from sandbox.backends.keycloak import KeycloakStartError, choose
from sandbox.backends.keycloak.choose import (
    choose_launcher,
    distribution_unavailable_reason,
    keycloak_unavailable_reason,
)
from sandbox.backends.keycloak.container import ContainerLauncher
from sandbox.backends.keycloak.database import PostgresDatabase
from sandbox.backends.keycloak.distribution import DistributionLauncher
from sandbox.backends.keycloak.fallback import ContainerThenDistribution
from sandbox.backends.keycloak.java import JavaNotFound, Jdk


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch):
    """Set what this "machine" has: Docker, a JDK, mvn. Everything present by default."""

    class Machine:
        def __init__(self) -> None:
            self.docker = True
            self.jdk = True
            self.mvn = True

    state = Machine()
    monkeypatch.delenv("KEYCLOAK_HOME", raising=False)
    monkeypatch.setattr(choose, "docker_available", lambda: state.docker)
    monkeypatch.setattr(choose, "find_mvn", lambda: "/usr/bin/mvn" if state.mvn else None)

    def find_jdk() -> Jdk:
        if not state.jdk:
            raise JavaNotFound("no JDK 17+ found (checked JAVA_HOME, PATH, /usr/lib/jvm; found: none)")
        return Jdk(Path("/jdk"), 25)

    monkeypatch.setattr(choose, "find_jdk", find_jdk)
    return state


def test_auto_prefers_docker_and_keeps_the_distribution_in_reserve(machine, minimal_realm, tmp_path) -> None:
    launcher = choose_launcher(minimal_realm, port=8081, cache_dir=tmp_path, network="host")
    assert isinstance(launcher, ContainerThenDistribution)
    assert isinstance(launcher.container, ContainerLauncher)
    assert (launcher.container.port, launcher.container.network) == (8081, "host")
    reserve = launcher.reserve()
    assert isinstance(reserve, DistributionLauncher) and reserve.port == 8081


def test_container_mode_has_no_fallback(machine, minimal_realm, tmp_path) -> None:
    assert isinstance(choose_launcher(minimal_realm, mode="container", cache_dir=tmp_path), ContainerLauncher)


def test_auto_falls_back_to_the_distribution(machine, minimal_realm, tmp_path) -> None:
    machine.docker = False
    launcher = choose_launcher(minimal_realm, port=8081, management_port=9001, cache_dir=tmp_path, keep_state=True)
    assert isinstance(launcher, DistributionLauncher)
    assert (launcher.port, launcher.management_port, launcher.keep_state) == (8081, 9001, True)


def test_auto_with_neither_says_why(machine, minimal_realm, tmp_path) -> None:
    machine.docker = False
    machine.jdk = False
    with pytest.raises(KeycloakStartError, match=r"^cannot run Keycloak: no Docker engine answered, and no JDK 17\+"):
        choose_launcher(minimal_realm, cache_dir=tmp_path)
    assert keycloak_unavailable_reason(cache_dir=tmp_path).startswith("no Docker engine answered, and no JDK 17+")


def test_without_mvn_a_cached_or_local_distribution_is_enough(machine, tmp_path, make_distribution) -> None:
    machine.docker = False
    machine.mvn = False
    assert distribution_unavailable_reason(cache_dir=tmp_path) == (
        "no Keycloak distribution: set KEYCLOAK_HOME, or install Maven (mvn) so it can be downloaded"
    )
    assert distribution_unavailable_reason(cache_dir=tmp_path, keycloak_home=make_distribution("exit 0\n")) is None
    cached = make_distribution("exit 0\n", name="cache/keycloak/26.7.3")
    assert cached == tmp_path / "cache" / "keycloak" / "26.7.3"
    assert keycloak_unavailable_reason(cache_dir=tmp_path / "cache") is None


def test_explicit_modes(machine, minimal_realm, tmp_path) -> None:
    assert isinstance(choose_launcher(minimal_realm, mode="distribution", cache_dir=tmp_path), DistributionLauncher)
    machine.docker = False
    with pytest.raises(KeycloakStartError, match="mode 'container' needs Docker"):
        choose_launcher(minimal_realm, mode="container", cache_dir=tmp_path)
    with pytest.raises(KeycloakStartError, match="--keycloak-network applies only to the container launcher"):
        choose_launcher(minimal_realm, mode="distribution", cache_dir=tmp_path, network="host")
    with pytest.raises(ValueError, match="unknown Keycloak launch mode 'podman'"):
        choose_launcher(minimal_realm, mode="podman")  # type: ignore[arg-type]


def test_distribution_only_options_pick_the_distribution_even_with_docker(
    machine, minimal_realm, tmp_path, make_distribution
) -> None:
    home = make_distribution("exit 0\n")
    by_home = choose_launcher(minimal_realm, cache_dir=tmp_path, keycloak_home=home)
    assert isinstance(by_home, DistributionLauncher)
    kept = choose_launcher(minimal_realm, cache_dir=tmp_path, keep_state=True)
    assert isinstance(kept, DistributionLauncher) and kept.keep_state
    with pytest.raises(KeycloakStartError, match=r"--keycloak-keep-state applies only to the distribution launcher"):
        choose_launcher(minimal_realm, mode="container", cache_dir=tmp_path, keep_state=True)
    machine.jdk = False
    with pytest.raises(
        KeycloakStartError,
        match=r"^cannot run Keycloak: --keycloak-keep-state needs the distribution launcher, but no JDK 17\+",
    ):
        choose_launcher(minimal_realm, cache_dir=tmp_path, keep_state=True)


def test_a_database_picks_the_distribution_and_the_container_refuses_it(
    machine, minimal_realm: Path, tmp_path: Path
) -> None:
    database = PostgresDatabase.from_url("postgres://kc:kc@localhost:5432/keycloak")
    launcher = choose_launcher(minimal_realm, cache_dir=tmp_path, database=database)
    assert isinstance(launcher, DistributionLauncher) and launcher.database == database
    with pytest.raises(KeycloakStartError, match=r"^--keycloak-db applies only to the distribution launcher"):
        choose_launcher(minimal_realm, mode="container", cache_dir=tmp_path, database=database)
    with pytest.raises(KeycloakStartError, match=r"^--keycloak-keep-state and --keycloak-db exclude each other"):
        choose_launcher(minimal_realm, cache_dir=tmp_path, database=database, keep_state=True)


def test_the_reason_follows_the_launcher_asked_for(machine, tmp_path) -> None:
    """With SANDBOX_KEYCLOAK_LAUNCHER=container and no Docker, the plugin saw Java and Maven, started
    anyway, and every test errored with KeycloakStartError's traceback instead of one skip line."""
    machine.docker = False
    assert keycloak_unavailable_reason(cache_dir=tmp_path) is None  # auto: the distribution can run
    assert keycloak_unavailable_reason(cache_dir=tmp_path, mode="container") == (
        "the container launcher needs Docker, but no Docker engine answered"
    )
    machine.docker, machine.jdk = True, False
    assert keycloak_unavailable_reason(cache_dir=tmp_path, mode="container") is None
    assert keycloak_unavailable_reason(cache_dir=tmp_path, mode="distribution").startswith("no JDK 17+")
