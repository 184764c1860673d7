"""A per-run Keycloak home, so runs never write into the shared distribution.

Keycloak keeps its database, its import directory and its re-augmented build under the
home directory (kc.sh derives it from its own real path). Each run therefore gets a
small home of its own: scripts, conf and build state are copied (a few MB), while the
168 MB of jars, which Keycloak only reads, are symlinked from the distribution.

Re-augmenting for `start-dev` costs ~19 s on two cores, and `kc.sh build` refuses dev
mode, so the first run's augmented build is saved as a seed for later runs. Keycloak
compares the persisted build options itself and re-augments if they differ, so a stale
seed costs time, never correctness.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

# Read-only jar trees, shared by symlink.
SHARED_PATHS = ("lib/lib", "bin/client")
AUGMENTED_BUILD = "lib/quarkus"


def prepare_run_home(dist_home: Path, run_home: Path, seed: Path | None) -> None:
    """Lay out run_home from dist_home, unless a kept home is already there."""
    if (run_home / "bin" / "kc.sh").is_file():
        return
    shared = {dist_home / path for path in SHARED_PATHS}

    def skip_shared(directory: str, names: list[str]) -> set[str]:
        return {name for name in names if Path(directory, name) in shared}

    partial = run_home.with_name(run_home.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(dist_home, partial, ignore=skip_shared, symlinks=True)
    for path in SHARED_PATHS:
        if (dist_home / path).exists():
            os.symlink(dist_home / path, partial / path)
    if seed is not None and seed.is_dir():
        shutil.rmtree(partial / AUGMENTED_BUILD)
        shutil.copytree(seed, partial / AUGMENTED_BUILD)
    shutil.rmtree(run_home, ignore_errors=True)
    os.rename(partial, run_home)


def place_realm(run_home: Path, realm_file: Path, realm_name: str) -> Path:
    """Put the realm where `--import-realm` looks; replaces any earlier copy."""
    import_dir = run_home / "data" / "import"
    import_dir.mkdir(parents=True, exist_ok=True)
    for old in import_dir.glob("*.json"):
        old.unlink()
    target = import_dir / f"{realm_name}.json"
    shutil.copyfile(realm_file, target)
    return target


def seed_path(seeds_dir: Path, dist_home: Path, build_options: list[str]) -> Path:
    key = hashlib.sha256("\0".join([str(dist_home.resolve()), *build_options]).encode()).hexdigest()[:16]
    return seeds_dir / key


def save_seed(run_home: Path, seed: Path) -> None:
    """Keep this run's augmented build for the next run (atomic; the first writer wins)."""
    if seed.is_dir():
        return
    seed.parent.mkdir(parents=True, exist_ok=True)
    partial = seed.with_name(f"{seed.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        shutil.copytree(run_home / AUGMENTED_BUILD, partial)
        os.rename(partial, seed)
    except OSError:
        pass  # only an optimisation: another run saved it first, or the disk is full
    finally:
        shutil.rmtree(partial, ignore_errors=True)
