"""Fixtures for the Keycloak launcher tests: fake distributions and JDKs (the real thing is in e2e/test_keycloak_launcher.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from keycloak_support import write_executable

from sandbox.backends.keycloak.ports import free_port

MINIMAL_REALM = Path(__file__).with_name("minimal-realm.json")


@pytest.fixture
def minimal_realm() -> Path:
    return MINIMAL_REALM


@pytest.fixture
def two_free_ports() -> tuple[int, int]:
    http = free_port()
    management = free_port()
    while management == http:
        management = free_port()
    return http, management


@pytest.fixture
def make_distribution(tmp_path: Path) -> Callable[[str], Path]:
    """A directory shaped like a Keycloak distribution whose kc.sh runs the given shell script."""

    def make(kc_script: str, name: str = "keycloak-fake") -> Path:
        home = tmp_path / name
        write_executable(home / "bin" / "kc.sh", kc_script)
        (home / "bin" / "client").mkdir(parents=True)
        (home / "bin" / "client" / "big.jar").write_bytes(b"jar")
        (home / "conf").mkdir()
        (home / "conf" / "keycloak.conf").write_text("# defaults\n")
        (home / "lib" / "lib" / "main").mkdir(parents=True)
        (home / "lib" / "lib" / "main" / "dep.jar").write_bytes(b"jar")
        (home / "lib" / "quarkus").mkdir()
        (home / "lib" / "quarkus" / "build-system.properties").write_text("pristine\n")
        (home / "lib" / "quarkus-run.jar").write_bytes(b"jar")
        return home

    return make


@pytest.fixture
def make_jdk(tmp_path: Path) -> Callable[..., Path]:
    """A directory shaped like a JDK home, with a `release` file naming its version."""

    def make(version: str, name: str | None = None, parent: Path | None = None) -> Path:
        home = (parent or tmp_path / "jvm") / (name or f"jdk-{version}")
        write_executable(home / "bin" / "java", f"echo 'openjdk version \"{version}\"' >&2\n")
        (home / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{version}"\n')
        return home

    return make
