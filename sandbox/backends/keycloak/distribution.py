"""Run Keycloak from its plain distribution (`kc.sh start-dev`) with a local JDK, no Docker needed."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from mock_idp.master import ADMIN_PASSWORD, ADMIN_USERNAME
from mock_idp.processes import pid_alive
from sandbox.backends.keycloak.base import (
    KEYCLOAK_VERSION,
    KeycloakInfo,
    KeycloakStartError,
    LauncherContext,
    Progress,
    no_progress,
    read_realm_name,
)
from sandbox.backends.keycloak.boot_log import BootLog
from sandbox.backends.keycloak.cache import (
    UnpackError,
    default_cache_dir,
    ensure_distribution,
    is_distribution,
    keycloak_root,
)
from sandbox.backends.keycloak.database import PostgresDatabase
from sandbox.backends.keycloak.java import JavaNotFound, Jdk, find_jdk
from sandbox.backends.keycloak.maven import MavenError
from sandbox.backends.keycloak.ports import port_conflict
from sandbox.backends.keycloak.process import STOP_GRACE_SECONDS, ProcessGroup, forget_at_exit, stop_at_exit
from sandbox.backends.keycloak.readiness import ExitedEarly, NotReady, wait_until_ready
from sandbox.backends.keycloak.run_home import place_realm, prepare_run_home, save_seed, seed_path

# Keycloak's own default outside containers; set explicitly because KC_RUN_IN_CONTAINER in
# the environment would switch it to 70% of RAM. Measured RSS after boot: ~440 MB.
DEFAULT_HEAP = "-Xms64m -Xmx512m"
# Quarkus defers SIGTERM until its boot completes, and an unfinished boot has nothing worth
# shutting down gracefully, so an aborted start (Ctrl-C, timeout) escalates to SIGKILL sooner.
ABORTED_BOOT_GRACE_SECONDS = 2.0


def keycloak_home_from_env() -> Path | None:
    value = os.environ.get("KEYCLOAK_HOME")
    return Path(value) if value else None


class DistributionLauncher(LauncherContext):
    def __init__(
        self,
        realm_file: Path,
        *,
        port: int = 8080,
        management_port: int = 9000,
        version: str = KEYCLOAK_VERSION,
        keycloak_home: Path | None = None,
        cache_dir: Path | None = None,
        keep_state: bool = False,
        database: PostgresDatabase | None = None,
        ready_timeout: float = 180.0,
        progress: Progress | None = None,
        jdk: Jdk | None = None,
    ) -> None:
        if keep_state and database is not None:
            # Kept state is Keycloak's dev-file database: it and PostgreSQL cannot both hold the realm.
            raise ValueError("keep_state and database exclude each other: the database already keeps the state")
        self.realm_file = Path(realm_file)
        self.port = port
        self.management_port = management_port
        self.version = version
        self.keycloak_home = keycloak_home or keycloak_home_from_env()
        self.cache_dir = cache_dir or default_cache_dir()
        self.keep_state = keep_state
        self.database = database
        self.ready_timeout = ready_timeout
        self.progress = progress or no_progress
        self.jdk = jdk
        root = keycloak_root(self.cache_dir)
        self.log_file = root / "logs" / f"keycloak-{port}.log"
        # Kept state lives at a fixed place; fresh runs get a home that stop() removes (with a
        # PostgreSQL database too: the state is there, the home holds only scripts and the build).
        self.run_home = root / "state" / version if keep_state else root / "runs" / f"{os.getpid()}-{port}"
        self.base_url = f"http://localhost:{port}"
        # Seconds per phase of the last start(): download, unpack, boot, ready (ready counts from spawn).
        self.timings: dict[str, float] = {}
        self._group: ProcessGroup | None = None
        self._ready = False

    @property
    def process_group(self) -> ProcessGroup | None:
        """Keycloak's process group while it runs (None before start and after stop)."""
        return self._group

    @property
    def db_vendor(self) -> str:
        # dev-mem: every run starts from the realm file alone, nothing survives a restart.
        if self.database is not None:
            return "postgres"
        return "dev-file" if self.keep_state else "dev-mem"

    def command(self) -> list[str]:
        return [
            str(self.run_home / "bin" / "kc.sh"),
            "start-dev",
            "--import-realm",
            f"--hostname={self.base_url}",
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            "--http-management-host=127.0.0.1",
            f"--http-management-port={self.management_port}",
            *self.build_options(),
            *(self.database.options() if self.database is not None else []),
        ]

    def build_options(self) -> list[str]:
        """The options Keycloak bakes into its augmented build (a change forces re-augmentation)."""
        return ["--health-enabled=true", f"--db={self.db_vendor}"]

    def environment(self, jdk: Jdk) -> dict[str, str]:
        env = dict(os.environ)
        env["JAVA_HOME"] = str(jdk.home)
        env["KC_BOOTSTRAP_ADMIN_USERNAME"] = ADMIN_USERNAME
        env["KC_BOOTSTRAP_ADMIN_PASSWORD"] = ADMIN_PASSWORD
        env.setdefault("JAVA_OPTS_KC_HEAP", DEFAULT_HEAP)
        if self.database is not None:
            env.update(self.database.environment())
        return env

    def start(self) -> KeycloakInfo:
        if self._group is not None:
            raise KeycloakStartError("this launcher is already running; stop() it first")
        self.timings = {}
        # The log is named by port: a Keycloak already on this port owns it, so check
        # first and leave that log alone.
        if conflict := port_conflict(self.port, self.management_port):
            raise KeycloakStartError(conflict)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.write_text("")
        try:
            return self._start()
        except KeycloakStartError as exc:
            self.stop()
            self._log(f"launcher: {exc}")
            raise
        except BaseException:
            # Ctrl-C or SystemExit mid-boot: never leave the JVM behind.
            self.stop()
            raise

    def _start(self) -> KeycloakInfo:
        try:
            realm_name = read_realm_name(self.realm_file)
        except KeycloakStartError as exc:
            raise self._error(str(exc)) from None
        realm_url = f"{self.base_url}/realms/{realm_name}"
        jdk = self._jdk()
        dist_home = self._distribution()

        seed = seed_path(keycloak_root(self.cache_dir) / "augmented", dist_home, self.build_options())
        if not self.keep_state:
            self._remove_stale_runs()
        prepare_run_home(dist_home, self.run_home, seed)
        place_realm(self.run_home, self.realm_file, realm_name)

        self.progress(f"boot: starting Keycloak on {self.base_url} with Java {jdk.major} ({jdk.home})")
        boot_log = BootLog(self.log_file, self.progress)
        with self.log_file.open("ab") as output:
            # Registered so that atexit (and SIGTERM) also removes the run home, not just the JVM.
            stop_at_exit(self)
            self._group = ProcessGroup.spawn(
                self.command(), cwd=self.run_home, env=self.environment(jdk), output=output
            )
        group = self._group
        try:
            wait_until_ready(
                realm_url,
                health_url=f"http://localhost:{self.management_port}/health/ready",
                timeout=self.ready_timeout,
                exit_code=group.exit_code,
                on_poll=boot_log.poll,
            )
        except ExitedEarly as exc:
            boot_log.poll()
            raise self._error(f"Keycloak exited early (code {exc.exit_code}): {boot_log.cause()}") from None
        except NotReady as exc:
            raise self._error(f"Keycloak {exc}") from None
        boot_log.poll()
        self._ready = True

        ready = time.monotonic() - boot_log.started
        if boot_log.booted_at is not None:
            self.timings["boot"] = boot_log.booted_at - boot_log.started
        self.timings["ready"] = ready
        self.progress(f"ready: {realm_url} answers discovery, {ready:.1f}s after launch")
        save_seed(self.run_home, seed)
        return KeycloakInfo(realm_url, self.base_url, ADMIN_USERNAME, ADMIN_PASSWORD, self.log_file)

    def stop(self) -> None:
        forget_at_exit(self)
        group, self._group = self._group, None
        if group is not None:
            group.stop(grace=STOP_GRACE_SECONDS if self._ready else ABORTED_BOOT_GRACE_SECONDS)
        self._ready = False
        if not self.keep_state:
            shutil.rmtree(self.run_home, ignore_errors=True)

    def _jdk(self) -> Jdk:
        if self.jdk is not None:
            return self.jdk
        try:
            return find_jdk()
        except JavaNotFound as exc:
            raise self._error(str(exc)) from None

    def _distribution(self) -> Path:
        if self.keycloak_home is not None:
            if not is_distribution(self.keycloak_home):
                raise self._error(f"KEYCLOAK_HOME {self.keycloak_home} is not a Keycloak distribution (no bin/kc.sh)")
            return self.keycloak_home.resolve()
        try:
            fetched = ensure_distribution(self.version, self.cache_dir, self.progress)
        except (MavenError, UnpackError) as exc:
            raise self._error(str(exc)) from None
        if fetched.download_seconds is not None:
            self.timings["download"] = fetched.download_seconds
        if fetched.unpack_seconds is not None:
            self.timings["unpack"] = fetched.unpack_seconds
        return fetched.home

    def _remove_stale_runs(self) -> None:
        """Drop run homes whose Python process died without stop() (e.g. SIGKILL)."""
        runs = self.run_home.parent
        if not runs.is_dir():
            return
        for child in runs.iterdir():
            pid = child.name.split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                shutil.rmtree(child, ignore_errors=True)

    def _error(self, cause: str) -> KeycloakStartError:
        if "(log: " in cause:
            return KeycloakStartError(cause)
        return KeycloakStartError(f"{cause} (log: {self.log_file})")

    def _log(self, line: str) -> None:
        try:
            with self.log_file.open("a") as log:
                log.write(line + "\n")
        except OSError:
            pass
