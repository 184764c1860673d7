"""Download the Keycloak distribution from Maven Central with the user's own `mvn`.

Maven brings its proxy, mirror and credential settings along, so this works wherever
the user's Java builds do, and it keeps a copy in ~/.m2 for the next cache.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
DOWNLOAD_TIMEOUT = 1800.0


class MavenError(Exception):
    """mvn is missing or the download failed; the message is one line."""


def distribution_artifact(version: str) -> str:
    return f"org.keycloak:keycloak-quarkus-dist:{version}:tar.gz"


def distribution_filename(version: str) -> str:
    return f"keycloak-quarkus-dist-{version}.tar.gz"


def copy_command(mvn: str, version: str, output_dir: Path) -> list[str]:
    return [
        mvn,
        "-B",
        "-q",
        f"{DEPENDENCY_PLUGIN}:copy",
        f"-Dartifact={distribution_artifact(version)}",
        f"-DoutputDirectory={output_dir}",
    ]


def find_mvn() -> str | None:
    return shutil.which("mvn")


def download_distribution(version: str, output_dir: Path, log_file: Path) -> Path:
    """Fetch the tar.gz into output_dir and return its path; mvn's output goes to log_file."""
    mvn = find_mvn()
    if mvn is None:
        raise MavenError("mvn not found on PATH; install Maven or set KEYCLOAK_HOME to an unpacked Keycloak")
    command = copy_command(mvn, version, output_dir)
    with log_file.open("ab") as log:
        log.write(f"$ {' '.join(command)}\n".encode())
        log.flush()
        try:
            # mvn runs from output_dir so a stray pom.xml in the caller's directory is never read.
            result = subprocess.run(
                command, cwd=output_dir, stdout=log, stderr=subprocess.STDOUT, timeout=DOWNLOAD_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            raise MavenError(
                f"Maven download of {distribution_artifact(version)} timed out (log: {log_file})"
            ) from None
    archive = output_dir / distribution_filename(version)
    if result.returncode != 0 or not archive.is_file():
        raise MavenError(
            f"Maven download of {distribution_artifact(version)} failed (exit {result.returncode}) (log: {log_file})"
        )
    return archive
