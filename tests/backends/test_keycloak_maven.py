from pathlib import Path

import pytest
from keycloak_support import write_executable

from sandbox.backends.keycloak import maven
from sandbox.backends.keycloak.maven import MavenError, copy_command, download_distribution


def test_copy_command_pins_the_plugin_and_artifact(tmp_path: Path) -> None:
    assert copy_command("/usr/bin/mvn", "26.7.3", tmp_path) == [
        "/usr/bin/mvn",
        "-B",
        "-q",
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
        "-Dartifact=org.keycloak:keycloak-quarkus-dist:26.7.3:tar.gz",
        f"-DoutputDirectory={tmp_path}",
    ]


def test_missing_mvn_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maven, "find_mvn", lambda: None)
    with pytest.raises(MavenError, match="mvn not found on PATH; install Maven or set KEYCLOAK_HOME"):
        download_distribution("26.7.3", tmp_path, tmp_path / "download.log")


def test_download_returns_the_archive_maven_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in mvn that writes the file named by -DoutputDirectory, as the real plugin does.
    fake = write_executable(
        tmp_path / "bin" / "mvn",
        """
        for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}";; esac; done
        echo downloading
        printf archive > "$out/keycloak-quarkus-dist-26.7.3.tar.gz"
        """,
    )
    monkeypatch.setattr(maven, "find_mvn", lambda: str(fake))
    out = tmp_path / "out"
    out.mkdir()
    archive = download_distribution("26.7.3", out, tmp_path / "download.log")
    assert archive == out / "keycloak-quarkus-dist-26.7.3.tar.gz"
    assert "downloading" in (tmp_path / "download.log").read_text()


def test_failed_download_names_the_artifact_and_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = write_executable(tmp_path / "bin" / "mvn", "echo 'Could not resolve artifact' ; exit 1\n")
    monkeypatch.setattr(maven, "find_mvn", lambda: str(fake))
    log = tmp_path / "download.log"
    with pytest.raises(MavenError) as raised:
        download_distribution("26.6.0", tmp_path, log)
    message = str(raised.value)
    assert message == f"Maven download of org.keycloak:keycloak-quarkus-dist:26.6.0:tar.gz failed (exit 1) (log: {log})"
    assert "Could not resolve artifact" in log.read_text()
