"""`--keycloak-db postgres://...`: the URL as Keycloak's options, the distribution launcher it picks, and refusals."""

from pathlib import Path

import pytest

from sandbox.backends.keycloak.database import PostgresDatabase
from sandbox.backends.keycloak.distribution import DistributionLauncher
from sandbox.backends.keycloak.java import Jdk
from sandbox.cli import StartupError, load_settings

URL = "postgres://kc:p%40ss@db.example:5433/keycloak"


def test_the_url_becomes_keycloaks_jdbc_options() -> None:
    database = PostgresDatabase.from_url(URL)
    assert database.options() == ["--db-url=jdbc:postgresql://db.example:5433/keycloak", "--db-username=kc"]
    assert database.environment() == {"KC_DB_PASSWORD": "p@ss"}  # percent-decoded
    assert "p@ss" not in repr(database) and "p%40ss" not in repr(database)


def test_defaults_and_query_carry_over() -> None:
    database = PostgresDatabase.from_url("postgresql://kc@127.0.0.1/kc?sslmode=disable")
    assert database.jdbc_url == "jdbc:postgresql://127.0.0.1:5432/kc?sslmode=disable"
    assert database.environment() == {}


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("mysql://kc:secret@db/keycloak", "not scheme 'mysql'"),
        ("postgres://kc:secret@db", "names no database"),
        ("postgres://db/keycloak", "names no user"),
        ("not a url", "must be a URL postgres://USER:PASS@HOST:PORT/DB"),
    ],
)
def test_a_bad_url_is_one_line_without_the_password(url: str, cause: str) -> None:
    with pytest.raises(ValueError, match=cause) as raised:
        PostgresDatabase.from_url(url)
    assert "secret" not in str(raised.value)
    with pytest.raises(StartupError) as startup:
        load_settings({"keycloak_db": url})
    assert str(startup.value).startswith("invalid setting keycloak_db (flag --keycloak-db or SANDBOX_KEYCLOAK_DB)")
    assert cause in str(startup.value) and "secret" not in str(startup.value)


def test_the_distribution_runs_on_postgres(tmp_path: Path, make_distribution, minimal_realm: Path) -> None:
    launcher = DistributionLauncher(
        minimal_realm,
        port=8081,
        management_port=9001,
        keycloak_home=make_distribution("exit 0\n"),
        cache_dir=tmp_path / "cache",
        database=PostgresDatabase.from_url(URL),
    )
    command = launcher.command()
    assert "--db=postgres" in command and "--db=dev-mem" not in command
    assert "--db-url=jdbc:postgresql://db.example:5433/keycloak" in command
    assert "--db=postgres" in launcher.build_options()  # the augmented build (and its seed) follows the vendor
    assert not any("p@ss" in part for part in command)  # `ps` shows the command line
    assert launcher.environment(Jdk(Path("/opt/fake-jdk"), 25))["KC_DB_PASSWORD"] == "p@ss"
    # The state is in PostgreSQL: the run home is a throwaway one, removed by stop().
    assert launcher.run_home.parent == tmp_path / "cache" / "keycloak" / "runs"


@pytest.mark.parametrize(
    ("other", "cause"),
    [
        ({"keycloak_keep_state": True}, "keycloak_db and keycloak_keep_state exclude each other"),
        ({"keycloak_url": "http://localhost:8080"}, "not one at keycloak_url"),
    ],
)
def test_settings_refuse_a_database_with_kept_or_attached_state(other: dict[str, object], cause: str) -> None:
    with pytest.raises(StartupError, match=f"^invalid settings: .*{cause}"):
        load_settings({"keycloak_db": URL, **other})
