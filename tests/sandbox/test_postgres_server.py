"""The tests' throwaway PostgreSQL (sandbox/testing/postgres.py): up on a free port, password-protected, gone after."""

import subprocess
from pathlib import Path

import pytest

from sandbox.testing.postgres import PostgresUnavailable, postgres_bin_dir, postgres_server


@pytest.fixture
def bin_dir() -> Path:
    try:
        return postgres_bin_dir()
    except PostgresUnavailable as exc:  # `make test` installs it; elsewhere this names what is missing
        pytest.skip(str(exc))


def psql(bin_dir: Path, url: str, query: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "psql"), url, "-tAc", query], capture_output=True, text=True, check=False)


def test_a_cluster_with_one_password_protected_database(bin_dir: Path) -> None:
    with postgres_server(database="kcdb", username="kcuser") as server:
        who = psql(bin_dir, server.url, "select current_user || '@' || current_database()")
        assert who.stdout.strip() == "kcuser@kcdb", who.stderr
        refused = psql(bin_dir, server.url.replace(server.password, "wrong-password"), "select 1")
        assert refused.returncode != 0 and "password authentication failed" in refused.stderr
        cluster = server.log_file.parent
    assert not cluster.exists()
    assert psql(bin_dir, server.url, "select 1").returncode != 0  # stopped
