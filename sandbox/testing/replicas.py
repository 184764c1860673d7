"""Sandbox replicas behind nginx, as separate processes on free loopback ports, for the scale-out e2e.

``Replica`` is ``python -m sandbox`` with ``--public-url``/``--store``/``--state-secret-file``;
``Nginx`` is Debian's nginx, round-robin over them with no sticky sessions. The replicas embed
the mock IdP, shared through the store, or use one IdP of their own: ``StandaloneIdp``, the
mock IdP on its own (bench/bench_scale.py). Each logs to a file in its
directory, so a failing test can be read afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sandbox.served_realm import read_realm
from sandbox.settings import DEFAULT_REALM_FILE
from sandbox.testing.server import clean_environment, free_port

START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 30.0


def nginx_missing() -> str | None:
    """Why nginx cannot be run here, in one line, or None."""
    return None if nginx_binary() else "nginx is not installed (apt-get install nginx-light)"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


class Process:
    """A child process with its output in ``directory/NAME.log``, ready once ``url`` answers."""

    def __init__(self, name: str, directory: Path, port: int) -> None:
        self.name = name
        self.directory = directory
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.directory / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=clean_environment()
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name} not ready in {START_TIMEOUT_SECONDS} s: {self.log_tail()}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            return httpx.get(self.ready_url(), timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        """SIGTERM and wait, as a rolling restart or Ctrl-C does; kill -9 if it does not end."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class StandaloneIdp(Process):
    """``mock-idp`` with the sandbox's realm, its callback and audience rewritten for ``public_url``."""

    def __init__(self, directory: Path, public_url: str) -> None:
        super().__init__("mock-idp", directory, free_port())
        directory.mkdir(parents=True, exist_ok=True)
        self.realm_file = read_realm(DEFAULT_REALM_FILE, public_url).write(directory / "realm.json")

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/realms/sandbox/.well-known/openid-configuration"

    def command(self) -> list[str]:
        return [
            *[sys.executable, "-m", "mock_idp", "--realm", str(self.realm_file), "--port", str(self.port)],
            *["--state-dir", str(self.directory / "state")],
        ]


class Replica(Process):
    def __init__(
        self, name: str, directory: Path, *, public_url: str, store: str, secret: Path, idp: str | None = None
    ) -> None:
        super().__init__(name, directory, free_port())
        # Without ``idp``, the embedded mock IdP: on a redis:// store the replicas share its
        # sessions, codes and keys too, so its login hops are balanced like the proxy's.
        backend = ["--backend", "keycloak", "--keycloak-url", idp] if idp else ["--backend", "mock"]
        self.options = [
            *["--public-url", public_url, "--store", store, "--state-secret-file", str(secret)],
            *[*backend, "--state-dir", str(directory / "state")],
        ]

    @property
    def address(self) -> str:
        """As its X-Sandbox-Replica header names it."""
        return f"localhost:{self.port}"

    def ready_url(self) -> str:
        return f"http://localhost:{self.port}/healthz"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "sandbox", "--port", str(self.port), "--log-level", "warning", *self.options]


class Nginx(Process):
    """Round-robin over the replicas; a replica that refuses connections is skipped for the next."""

    def __init__(self, directory: Path, port: int, replicas: list[Replica]) -> None:
        super().__init__("nginx", directory, port)
        self.replicas = replicas

    def command(self) -> list[str]:
        config = self.directory / "nginx.conf"
        config.write_text(self.config())
        return [nginx_binary() or "nginx", "-p", str(self.directory), "-c", str(config), "-e", str(self.log_file)]

    def config(self) -> str:
        servers = "".join(f"server 127.0.0.1:{replica.port} max_fails=0;" for replica in self.replicas)
        temp = self.directory / "temp"
        temp.mkdir(exist_ok=True)
        return f"""daemon off; worker_processes 1; pid {self.directory}/nginx.pid; error_log {self.log_file} warn;
events {{ worker_connections 1024; }}
http {{
  access_log {self.directory}/access.log;
  client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi; client_body_buffer_size 1m;
  upstream sandbox {{ {servers} }}
  server {{
    listen 127.0.0.1:{self.port};
    location / {{
      proxy_pass http://sandbox;
      proxy_set_header Host $http_host;
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_read_timeout 120s;
      proxy_next_upstream error timeout;
    }}
  }}
}}
"""
