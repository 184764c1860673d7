"""The per-user cache of unpacked Keycloak distributions.

A version's directory appears only by an atomic rename of a fully unpacked tree, so its
existence means it is complete: an interrupted download leaves a `.partial-*` directory
that the next fetch removes, never a half cache.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from mock_idp.processes import pid_alive
from sandbox.backends.keycloak.base import Progress
from sandbox.backends.keycloak.maven import download_distribution

PARTIAL_PREFIX = ".partial-"


@dataclass(frozen=True)
class FetchedDistribution:
    home: Path
    download_seconds: float | None  # None when the cache already had it
    unpack_seconds: float | None


class UnpackError(Exception):
    """The archive is not a Keycloak distribution or tries to write outside its directory."""


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("mcp-oauth-sandbox"))


def keycloak_root(cache_dir: Path) -> Path:
    return cache_dir / "keycloak"


def cached_home(cache_dir: Path, version: str) -> Path:
    return keycloak_root(cache_dir) / version


def is_distribution(home: Path) -> bool:
    return (home / "bin" / "kc.sh").is_file() and (home / "lib" / "quarkus-run.jar").is_file()


def safe_unpack(archive: Path, dest: Path) -> Path:
    """Unpack with tarfile's "data" filter (no absolute paths, no escaping links, no devices).

    Returns the single top-level directory the distribution unpacks to.
    """
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise UnpackError(f"cannot unpack {archive.name}: {exc}") from None
    tops = [child for child in dest.iterdir()]
    if len(tops) != 1 or not is_distribution(tops[0]):
        raise UnpackError(f"{archive.name} is not a Keycloak distribution (no bin/kc.sh at its top)")
    return tops[0]


def remove_stale_partials(root: Path) -> None:
    """Drop leftovers of fetches whose process died mid-way (the pid is in the name)."""
    if not root.is_dir():
        return
    for child in root.iterdir():
        if not child.name.startswith(PARTIAL_PREFIX):
            continue
        pid = child.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or not pid_alive(int(pid)):
            shutil.rmtree(child, ignore_errors=True)


def ensure_distribution(version: str, cache_dir: Path, progress: Progress) -> FetchedDistribution:
    """The cached distribution for version, downloading and unpacking it first if needed."""
    home = cached_home(cache_dir, version)
    if is_distribution(home):
        return FetchedDistribution(home, None, None)

    root = keycloak_root(cache_dir)
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(root)
    staging = root / f"{PARTIAL_PREFIX}{version}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "download").mkdir(parents=True)
    try:
        progress(f"download: fetching Keycloak {version} (~176 MB) with Maven into {root}")
        started = time.monotonic()
        archive = download_distribution(version, staging / "download", logs / f"download-{version}.log")
        download_seconds = time.monotonic() - started
        progress(f"download: done in {download_seconds:.1f}s")

        started = time.monotonic()
        (staging / "unpacked").mkdir()
        unpacked = safe_unpack(archive, staging / "unpacked")
        try:
            os.rename(unpacked, home)
        except OSError:
            # Another process finished the same fetch first; its copy is as good as ours.
            if not is_distribution(home):
                raise
        unpack_seconds = time.monotonic() - started
        progress(f"unpack: done in {unpack_seconds:.1f}s")
        return FetchedDistribution(home, download_seconds, unpack_seconds)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
