"""Run Keycloak in a container through testcontainers, when a Docker-compatible engine answers."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from mock_idp.master import ADMIN_PASSWORD, ADMIN_USERNAME
from sandbox.backends.keycloak.base import (
    KEYCLOAK_VERSION,
    KeycloakInfo,
    KeycloakStartError,
    LauncherContext,
    Progress,
    no_progress,
    read_realm_name,
)
from sandbox.backends.keycloak.cache import default_cache_dir, keycloak_root
from sandbox.backends.keycloak.ports import port_conflict
from sandbox.backends.keycloak.readiness import NotReady, wait_until_ready
from sandbox.backends.keycloak.testcontainers_env import launcher_settings
from sandbox.logs import one_line

if TYPE_CHECKING:
    from testcontainers.community.keycloak import KeycloakContainer

IMAGE = "quay.io/keycloak/keycloak"
# Ports inside the container; the host ports are whatever the caller asked for.
CONTAINER_HTTP_PORT = 8080
CONTAINER_MANAGEMENT_PORT = 9000
DOCKER_PING_TIMEOUT = 2
# The engine's own default network; "host" shares the host's network (no ports published).
DEFAULT_NETWORK = "bridge"


class ContainerStartError(KeycloakStartError):
    """The engine could not run the container at all (no image, engine refused): `auto` may try the distribution."""


def docker_available(timeout: int = DOCKER_PING_TIMEOUT) -> bool:
    """True when a Docker engine answers a ping; never raises, never waits long."""
    try:
        import docker
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        # DockerException, connection errors, bad DOCKER_HOST: all mean "no usable engine".
        return False


def keycloak_container_class() -> Callable[..., KeycloakContainer]:
    # testcontainers warns about its own internal decorator at import; nothing we can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from testcontainers.community.keycloak import KeycloakContainer

    class HostNetworkKeycloakContainer(KeycloakContainer):
        # testcontainers asks the engine for a published port even on the host network, where
        # none exists (the container's port is the host's): its readiness probe would never connect.
        def _get_exposed_port(self, port: int) -> int:
            if self._kwargs.get("network_mode") == "host":
                return port
            return int(super()._get_exposed_port(port))

    return HostNetworkKeycloakContainer


class ContainerLauncher(LauncherContext):
    def __init__(
        self,
        realm_file: Path,
        *,
        port: int = 8080,
        management_port: int = 9000,
        version: str = KEYCLOAK_VERSION,
        cache_dir: Path | None = None,
        ready_timeout: float = 180.0,
        progress: Progress | None = None,
        network: str = DEFAULT_NETWORK,
        container_class: Callable[..., KeycloakContainer] | None = None,
        testcontainers_settings: Callable[[Progress, float], AbstractContextManager[None]] = launcher_settings,
    ) -> None:
        self.realm_file = Path(realm_file)
        self.port = port
        self.management_port = management_port
        self.image = f"{IMAGE}:{version}"
        self.ready_timeout = ready_timeout
        self.progress = progress or no_progress
        self.network = network
        self.base_url = f"http://localhost:{port}"
        # Container logs are copied here when the container stops, since they vanish with it.
        self.log_file = keycloak_root(cache_dir or default_cache_dir()) / "logs" / f"keycloak-container-{port}.log"
        self._container_class = container_class or keycloak_container_class()
        self._testcontainers_settings = testcontainers_settings
        self._container: KeycloakContainer | None = None

    @property
    def container_id(self) -> str | None:
        """The engine's id of the running container (None before start and after stop)."""
        return None if self._container is None else str(self._container.get_wrapped_container().id)

    @property
    def host_network(self) -> bool:
        return self.network == "host"

    def command(self) -> str:
        # testcontainers appends --import-realm itself once a realm file is mapped.
        command = f"start-dev --hostname={self.base_url}"
        if self.host_network:
            # Nothing is published on the host network: Keycloak itself listens on the host's
            # ports, on loopback only (the admin/admin console must not face the network).
            command += f" --http-host=127.0.0.1 --http-port={self.port} --http-management-port={self.management_port}"
        return command

    def build_container(self) -> KeycloakContainer:
        http_port, management_port = (
            (self.port, self.management_port) if self.host_network else (CONTAINER_HTTP_PORT, CONTAINER_MANAGEMENT_PORT)
        )
        container = self._container_class(
            self.image,
            username=ADMIN_USERNAME,
            password=ADMIN_PASSWORD,
            port=http_port,
            management_port=management_port,
            cmd=self.command(),
        )
        container.with_realm_import_file(str(self.realm_file.resolve()))
        if self.network != DEFAULT_NETWORK:
            container.with_kwargs(network_mode=self.network)
        if self.host_network:
            # The exposed ports testcontainers declared would be refused alongside network_mode=host.
            container.ports.clear()
        else:
            # Fixed host ports keep the issuer (http://localhost:<port>/realms/...) stable across runs.
            bind_on_loopback(container, CONTAINER_HTTP_PORT, self.port)
            bind_on_loopback(container, CONTAINER_MANAGEMENT_PORT, self.management_port)
        return container

    def start(self) -> KeycloakInfo:
        if self._container is not None:
            raise KeycloakStartError("this launcher is already running; stop() it first")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            try:
                realm_name = read_realm_name(self.realm_file)
            except KeycloakStartError as exc:
                raise self._error(str(exc)) from None
            if conflict := port_conflict(self.port, self.management_port):
                raise self._error(conflict)
            realm_url = f"{self.base_url}/realms/{realm_name}"
            self.log_file.write_text("")  # this run's log only
            self._container = self.build_container()
            started = time.monotonic()
            self.progress(
                f"boot: starting {self.image} on {self.base_url}, {self.network} network (pulled first if missing)"
            )
            try:
                with self._testcontainers_settings(self.progress, self.ready_timeout):
                    # Blocks until /health/ready answers on the management port (testcontainers' probe).
                    self._container.start()
            except Exception as exc:
                # The one-line error names the log file: it gets the whole story, not just the first line.
                self._write_log(f"container {self.image} failed to start:\n{exc}\n")
                raise ContainerStartError(
                    f"container {self.image} failed to start: {one_line(exc, first_line=True)}{_hint(exc)} (log: {self.log_file})"
                ) from None
            try:
                wait_until_ready(
                    realm_url,
                    health_url=f"http://localhost:{self.management_port}/health/ready",
                    timeout=self.ready_timeout,
                )
            except NotReady as exc:
                raise self._error(f"Keycloak {exc}") from None
            self.progress(f"ready: {realm_url} answers discovery, {time.monotonic() - started:.1f}s after launch")
            return KeycloakInfo(realm_url, self.base_url, ADMIN_USERNAME, ADMIN_PASSWORD, self.log_file)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        try:
            self._save_logs(container)
        finally:
            container.stop()

    def _save_logs(self, container: KeycloakContainer) -> None:
        try:
            stdout, stderr = container.get_logs()
        except Exception:
            return  # never created (the start error is in the log already)
        with self.log_file.open("ab") as log:
            log.write(stdout + stderr)

    def _write_log(self, text: str) -> None:
        with self.log_file.open("a") as log:
            log.write(text)

    def _error(self, cause: str) -> KeycloakStartError:
        return KeycloakStartError(f"{cause} (log: {self.log_file})")


def bind_on_loopback(container: KeycloakContainer, container_port: int, host_port: int) -> None:
    """Publish a container port on 127.0.0.1 only: the admin console's admin/admin must not face the network."""
    container.with_bind_ports(container_port, host_port)
    # testcontainers' with_bind_ports takes no interface; the Docker SDK accepts (host_ip, host_port).
    # testcontainers types the values as ports alone, though it hands them to the SDK as they are.
    container.ports[str(container_port)] = ("127.0.0.1", host_port)  # type: ignore[assignment]


def _hint(exc: BaseException) -> str:
    text = str(exc)
    if "ImageNotFound" in type(exc).__name__ or "No such image" in text or "pull access denied" in text:
        return "; without a registry, build it with `make keycloak-image`"
    return ""
