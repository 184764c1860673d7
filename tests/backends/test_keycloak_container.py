from contextlib import nullcontext
from pathlib import Path
from typing import ClassVar
from unittest import mock

import httpx
import pytest

from sandbox.backends.keycloak import KeycloakStartError, container
from sandbox.backends.keycloak.container import ContainerLauncher, ContainerStartError, docker_available


class FakeKeycloakContainer:
    """Records what the launcher asks of testcontainers' KeycloakContainer."""

    instances: ClassVar[list["FakeKeycloakContainer"]] = []
    fail_start: Exception | None = None

    def __init__(self, image: str, **kwargs: object) -> None:
        self.image = image
        self.kwargs = kwargs
        self.realm_import: str | None = None
        # testcontainers' KeycloakContainer declares its two container ports as exposed.
        self.ports: dict[str, object] = {"8080": None, "9000": None}
        self.engine_kwargs: dict[str, object] = {}
        self.started = False
        self.stopped = 0
        FakeKeycloakContainer.instances.append(self)

    def with_realm_import_file(self, path: str) -> "FakeKeycloakContainer":
        self.realm_import = path
        return self

    def with_bind_ports(self, container_port: int, host_port: int) -> "FakeKeycloakContainer":
        self.ports[str(container_port)] = host_port
        return self

    def with_kwargs(self, **kwargs: object) -> "FakeKeycloakContainer":
        self.engine_kwargs = kwargs
        return self

    def start(self) -> "FakeKeycloakContainer":
        if self.fail_start is not None:
            raise self.fail_start
        self.started = True
        return self

    def get_logs(self) -> tuple[bytes, bytes]:
        return b"keycloak stdout\n", b"keycloak stderr\n"

    def stop(self) -> None:
        self.stopped += 1


@pytest.fixture
def fake_container(monkeypatch: pytest.MonkeyPatch):
    FakeKeycloakContainer.instances = []
    FakeKeycloakContainer.fail_start = None
    return FakeKeycloakContainer


def launcher(realm: Path, tmp_path: Path, ports: tuple[int, int], **kwargs) -> ContainerLauncher:
    return ContainerLauncher(
        realm,
        port=ports[0],
        management_port=ports[1],
        cache_dir=tmp_path,
        container_class=FakeKeycloakContainer,
        testcontainers_settings=lambda progress, ready_timeout: nullcontext(),
        **kwargs,
    )


def test_builds_the_pinned_image_with_import_and_fixed_ports(fake_container, minimal_realm, tmp_path) -> None:
    built = launcher(minimal_realm, tmp_path, (8081, 9001)).build_container()
    assert built.image == "quay.io/keycloak/keycloak:26.7.3"
    assert built.kwargs == {
        "username": "admin",
        "password": "admin",
        "port": 8080,
        "management_port": 9000,
        # testcontainers appends --import-realm itself (once a realm file is mapped) and enables health.
        "cmd": "start-dev --hostname=http://localhost:8081",
    }
    assert built.realm_import == str(minimal_realm.resolve())
    # Published on loopback only, so the admin/admin console is not reachable from the network.
    assert built.ports == {"8080": ("127.0.0.1", 8081), "9000": ("127.0.0.1", 9001)}
    assert built.engine_kwargs == {}  # the engine's default (bridge) network


def test_the_host_network_publishes_nothing_and_listens_on_loopback(fake_container, minimal_realm, tmp_path) -> None:
    built = launcher(minimal_realm, tmp_path, (8081, 9001), network="host").build_container()
    assert built.engine_kwargs == {"network_mode": "host"}
    assert built.ports == {}
    # Keycloak itself takes the host ports, and the probe and kcadm address it there.
    assert (built.kwargs["port"], built.kwargs["management_port"]) == (8081, 9001)
    assert built.kwargs["cmd"] == (
        "start-dev --hostname=http://localhost:8081 --http-host=127.0.0.1 --http-port=8081 --http-management-port=9001"
    )


def test_a_named_network_keeps_the_published_loopback_ports(fake_container, minimal_realm, tmp_path) -> None:
    built = launcher(minimal_realm, tmp_path, (8081, 9001), network="ci-net").build_container()
    assert built.engine_kwargs == {"network_mode": "ci-net"}
    assert built.ports == {"8080": ("127.0.0.1", 8081), "9000": ("127.0.0.1", 9001)}


def test_testcontainers_probes_the_host_port_itself_on_the_host_network() -> None:
    # Without this, testcontainers asks the engine for a published port that cannot exist.
    # (Called unbound: constructing the real class connects to an engine.)
    on_host_network = mock.Mock(_kwargs={"network_mode": "host"})
    assert container.keycloak_container_class()._get_exposed_port(on_host_network, 8081) == 8081


def test_start_waits_for_the_realm_and_returns_localhost_urls(
    fake_container, minimal_realm, tmp_path, two_free_ports, monkeypatch
) -> None:
    waited: list[tuple[str, str | None]] = []
    monkeypatch.setattr(
        container, "wait_until_ready", lambda realm_url, *, health_url, timeout: waited.append((realm_url, health_url))
    )
    http, management = two_free_ports
    said: list[str] = []
    with launcher(minimal_realm, tmp_path, two_free_ports, progress=said.append) as info:
        assert info.realm_url == f"http://localhost:{http}/realms/sandbox"
        assert info.base_url == f"http://localhost:{http}"
        assert (info.admin_username, info.admin_password) == ("admin", "admin")
        assert fake_container.instances[0].started
    assert waited == [(info.realm_url, f"http://localhost:{management}/health/ready")]
    assert [line.split(":")[0] for line in said] == ["boot", "ready"]
    assert said[-1].startswith(f"ready: {info.realm_url} answers discovery, ") and said[-1].endswith("s after launch")
    assert fake_container.instances[0].stopped == 1
    assert info.log_file is not None and info.log_file.read_text() == "keycloak stdout\nkeycloak stderr\n"


def test_a_failed_container_start_is_stopped_and_one_line(
    fake_container, minimal_realm, tmp_path, two_free_ports
) -> None:
    fake_container.fail_start = RuntimeError("engine refused\nfull docker trace")
    kc = launcher(minimal_realm, tmp_path, two_free_ports)
    with pytest.raises(ContainerStartError) as raised:
        kc.start()
    assert str(raised.value) == (
        f"container quay.io/keycloak/keycloak:26.7.3 failed to start: RuntimeError: engine refused (log: {kc.log_file})"
    )
    assert fake_container.instances[0].stopped == 1
    # The file the line names holds the whole error, then what the container printed.
    assert kc.log_file.read_text() == (
        "container quay.io/keycloak/keycloak:26.7.3 failed to start:\nengine refused\nfull docker trace\n"
        "keycloak stdout\nkeycloak stderr\n"
    )
    kc.stop()  # idempotent
    assert fake_container.instances[0].stopped == 1


def test_a_missing_image_says_how_to_build_it(fake_container, minimal_realm, tmp_path, two_free_ports) -> None:
    import docker.errors

    fake_container.fail_start = docker.errors.ImageNotFound("No such image: quay.io/keycloak/keycloak:26.7.3")
    kc = launcher(minimal_realm, tmp_path, two_free_ports)
    with pytest.raises(ContainerStartError, match=r"; without a registry, build it with `make keycloak-image` \(log: "):
        kc.start()


def test_a_realm_that_never_answers_stops_the_container(
    fake_container, minimal_realm, tmp_path, two_free_ports
) -> None:
    # Nothing listens on the free ports, so the discovery wait must time out.
    kc = launcher(minimal_realm, tmp_path, two_free_ports, ready_timeout=0.3)
    with pytest.raises(KeycloakStartError, match=r"^Keycloak not ready within 0s \(last: ConnectError on .*\) \(log: "):
        kc.start()
    assert fake_container.instances[0].stopped == 1


def test_a_port_in_use_is_refused_before_docker_is_asked(
    fake_container, minimal_realm, tmp_path, two_free_ports
) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", two_free_ports[0]))
        busy.listen()
        with pytest.raises(KeycloakStartError, match=f"^port {two_free_ports[0]} is already in use"):
            launcher(minimal_realm, tmp_path, two_free_ports).start()
    assert fake_container.instances == []


def test_docker_available_when_the_engine_answers() -> None:
    client = mock.Mock()
    client.ping.return_value = True
    with mock.patch("docker.from_env", return_value=client) as from_env:
        assert docker_available()
    from_env.assert_called_once_with(timeout=2)
    client.close.assert_called_once()


@pytest.mark.parametrize(
    "failure",
    [
        mock.patch("docker.from_env", side_effect=__import__("docker").errors.DockerException("no socket")),
        mock.patch("docker.from_env", return_value=mock.Mock(ping=mock.Mock(side_effect=httpx.ConnectError("down")))),
    ],
    ids=["no-engine", "ping-fails"],
)
def test_docker_unavailable_never_raises(failure) -> None:
    with failure:
        assert docker_available() is False


def test_docker_detection_on_this_machine_is_quick() -> None:
    import time

    started = time.monotonic()
    docker_available()
    assert time.monotonic() - started < 5
