"""A throwaway PostgreSQL server for tests: Debian's binaries, a temporary cluster, a free loopback port.

PostgreSQL refuses to run as root, so as root the server runs as Debian's `postgres` account
(which the `postgresql` package creates); anyone else runs it as themselves.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.testing.server import free_port

# Debian installs the server binaries per major version, off PATH.
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVICE_ACCOUNT = "postgres"
READY_TIMEOUT_SECONDS = 60.0


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message is one line naming what is missing."""


@dataclass(frozen=True)
class PostgresServer:
    port: int
    database: str
    username: str
    password: str = field(repr=False)
    log_file: Path

    @property
    def url(self) -> str:
        """`postgres://USER:PASS@127.0.0.1:PORT/DB`, as `--keycloak-db` takes it."""
        return f"postgres://{self.username}:{self.password}@127.0.0.1:{self.port}/{self.database}"


def postgres_bin_dir() -> Path:
    """The directory holding initdb and postgres: PATH first, then Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        return Path(on_path).resolve().parent
    debian = sorted(Path("/").glob(DEBIAN_BIN_GLOB.lstrip("/")), key=_major_version)
    if debian and (debian[-1] / "initdb").is_file():
        return debian[-1]
    raise PostgresUnavailable(
        f"no PostgreSQL server: initdb is neither on PATH nor in {DEBIAN_BIN_GLOB} (apt-get install postgresql)"
    )


def _major_version(bin_dir: Path) -> int:
    version = bin_dir.parent.name
    return int(version) if version.isdigit() else 0


def _run_as() -> str | None:
    """The account to run the server as: None for the current user, unless that is root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError:
        raise PostgresUnavailable(
            f"PostgreSQL will not run as root, and there is no {SERVICE_ACCOUNT!r} account to run it as "
            "(apt-get install postgresql creates it)"
        ) from None
    return SERVICE_ACCOUNT


@contextmanager
def postgres_server(database: str = "keycloak", username: str = "keycloak") -> Iterator[PostgresServer]:
    """Start a fresh cluster with one password-protected database; stop and remove it afterwards."""
    bin_dir = postgres_bin_dir()
    account = _run_as()
    base = Path(tempfile.mkdtemp(prefix="sandbox-postgres-"))
    try:
        if account is not None:
            entry = pwd.getpwnam(account)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        server = PostgresServer(free_port(), database, username, secrets.token_urlsafe(16), base / "postgres.log")
        _init_cluster(bin_dir, base, server, account)
        with _serving(bin_dir, base, server, account):
            _run(
                [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(server.port), "-U", username, database],
                account,
                base,
                env={"PGPASSWORD": server.password},
            )
            yield server
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _init_cluster(bin_dir: Path, base: Path, server: PostgresServer, account: str | None) -> None:
    password_file = base / "password"
    password_file.write_text(server.password)
    if account is not None:
        entry = pwd.getpwnam(account)
        os.chown(password_file, entry.pw_uid, entry.pw_gid)
    password_file.chmod(0o600)
    _run(
        [
            str(bin_dir / "initdb"),
            f"--pgdata={base / 'data'}",
            f"--username={server.username}",
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            # A test cluster is thrown away: skip the fsync of every file initdb writes.
            "--no-sync",
        ],
        account,
        base,
    )
    password_file.unlink()


@contextmanager
def _serving(bin_dir: Path, base: Path, server: PostgresServer, account: str | None) -> Iterator[None]:
    command = [
        str(bin_dir / "postgres"),
        "-D",
        str(base / "data"),
        "-p",
        str(server.port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={base}",
        # Durability is not what a throwaway cluster tests; this saves seconds per Keycloak boot.
        "-c",
        "fsync=off",
    ]
    with server.log_file.open("ab") as log:
        process = subprocess.Popen(command, user=account, cwd=base, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(bin_dir, server, process, account)
        yield
    finally:
        process.terminate()  # SIGTERM: PostgreSQL's "smart" shutdown; the clients are gone by now
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(
    bin_dir: Path, server: PostgresServer, process: subprocess.Popen[bytes], account: str | None
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    probe = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(server.port)]
    while subprocess.run(probe, check=False).returncode != 0:
        if process.poll() is not None:
            raise PostgresUnavailable(
                f"PostgreSQL exited with code {process.returncode}: {_last_line(server.log_file)}"
            )
        if time.monotonic() > deadline:
            raise PostgresUnavailable(
                f"PostgreSQL not ready within {READY_TIMEOUT_SECONDS:.0f}s: {_last_line(server.log_file)}"
            )
        time.sleep(0.1)


def _last_line(log_file: Path) -> str:
    # The cluster and its log are removed on the way out, so the cause travels in the message.
    lines = [line for line in log_file.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


def _run(command: list[str], account: str | None, cwd: Path, env: dict[str, str] | None = None) -> None:
    # cwd: the server's own directory, which the postgres account can enter (the caller's may not).
    done = subprocess.run(
        command,
        user=account,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        cause = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise PostgresUnavailable(f"{Path(command[0]).name} failed (code {done.returncode}): {cause[-1]}")
