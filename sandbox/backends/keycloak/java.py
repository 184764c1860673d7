"""Find a JDK that can run Keycloak."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MIN_JAVA = 17
# Newest major Keycloak 26.7.3 was booted on here without warnings; newer ones are a fallback.
NEWEST_TESTED_JAVA = 25
JVM_DIRS = (Path("/usr/lib/jvm"), Path("/Library/Java/JavaVirtualMachines"))

_VERSION_IN_QUOTES = re.compile(r'"([^"]+)"')


@dataclass(frozen=True)
class Jdk:
    home: Path
    major: int

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


class JavaNotFound(Exception):
    """No usable JDK; the message says what was looked at."""


def parse_java_major(version: str) -> int | None:
    """`17.0.15` -> 17, `1.8.0_292` -> 8, `25-ea` -> 25; None if it is not a version."""
    match = re.match(r"(\d+)(?:\.(\d+))?", version.strip())
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2) is not None:
        return int(match.group(2))
    return major


def java_major(home: Path) -> int | None:
    """The JDK's major version, from its `release` file, else from `java -version`."""
    release = home / "release"
    if release.is_file():
        for line in release.read_text(errors="replace").splitlines():
            if line.startswith("JAVA_VERSION="):
                return parse_java_major(line.partition("=")[2].strip('"'))
    java = home / "bin" / "java"
    if not java.is_file():
        return None
    try:
        result = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION_IN_QUOTES.search(result.stderr + result.stdout)
    return parse_java_major(match.group(1)) if match else None


def candidate_homes(java_home: str | None, path: str | None, jvm_dirs: tuple[Path, ...] = JVM_DIRS) -> list[Path]:
    """JDK homes in the order a user would expect: JAVA_HOME, the `java` on PATH, then installed JDKs."""
    homes: list[Path] = []
    if java_home:
        homes.append(Path(java_home))
    on_path = shutil.which("java", path=path) if path is not None else None
    if on_path:
        # /usr/bin/java -> /usr/lib/jvm/<jdk>/bin/java: the home is two levels above the real binary.
        homes.append(Path(os.path.realpath(on_path)).parent.parent)
    for jvm_dir in jvm_dirs:
        if jvm_dir.is_dir():
            for child in sorted(jvm_dir.iterdir()):
                # macOS bundles keep the home under Contents/Home.
                homes.append(child / "Contents" / "Home" if (child / "Contents" / "Home").is_dir() else child)
    unique: list[Path] = []
    for home in homes:
        resolved = home.resolve()
        if resolved not in unique and (resolved / "bin" / "java").is_file():
            unique.append(resolved)
    return unique


def choose_jdk(jdks: list[Jdk], *, explicit: Jdk | None = None) -> Jdk:
    """An explicit JAVA_HOME that is new enough wins; otherwise the newest tested major, then anything newer."""
    if explicit is not None and explicit.major >= MIN_JAVA:
        return explicit
    usable = [jdk for jdk in jdks if jdk.major >= MIN_JAVA]
    if not usable:
        found = ", ".join(f"{jdk.home} (Java {jdk.major})" for jdk in jdks) or "none"
        raise JavaNotFound(f"no JDK {MIN_JAVA}+ found (checked JAVA_HOME, PATH, /usr/lib/jvm; found: {found})")
    tested = [jdk for jdk in usable if jdk.major <= NEWEST_TESTED_JAVA]
    pool = tested or usable
    return max(pool, key=lambda jdk: jdk.major) if tested else min(pool, key=lambda jdk: jdk.major)


def find_jdk(env: dict[str, str] | None = None, jvm_dirs: tuple[Path, ...] = JVM_DIRS) -> Jdk:
    env = dict(os.environ) if env is None else env
    java_home = env.get("JAVA_HOME")
    jdks: list[Jdk] = []
    explicit: Jdk | None = None
    for home in candidate_homes(java_home, env.get("PATH", ""), jvm_dirs):
        major = java_major(home)
        if major is None:
            continue
        jdk = Jdk(home, major)
        jdks.append(jdk)
        if java_home and home == Path(java_home).resolve():
            explicit = jdk
    return choose_jdk(jdks, explicit=explicit)
