"""Cold start of Keycloak from the distribution launcher: seconds from launch until the realm answers.

    .venv/bin/python bench/bench_keycloak_start.py [--runs 3] [--realm realms/sandbox.json] [--no-seed]

The distribution is normally cached already; if this run had to download it, download and
unpack are reported on their own line. --no-seed drops the saved augmented build first, to
measure the very first boot on a machine (Quarkus re-augmentation included).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.backends.keycloak import KEYCLOAK_VERSION
from sandbox.backends.keycloak.cache import default_cache_dir, keycloak_root
from sandbox.backends.keycloak.distribution import DistributionLauncher
from sandbox.backends.keycloak.java import find_jdk
from sandbox.backends.keycloak.ports import free_port

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--realm", type=Path, default=REPO / "realms" / "sandbox.json")
    parser.add_argument("--no-seed", action="store_true", help="forget the saved augmented build first")
    args = parser.parse_args()

    jdk = find_jdk()
    print(f"keycloak {KEYCLOAK_VERSION} distribution, Java {jdk.major}, {os.cpu_count()} cpus, realm {args.realm.name}")
    if args.no_seed:
        shutil.rmtree(keycloak_root(default_cache_dir()) / "augmented", ignore_errors=True)

    readies: list[float] = []
    for run in range(1, args.runs + 1):
        launcher = DistributionLauncher(args.realm, port=free_port(), management_port=free_port(), jdk=jdk)
        try:
            launcher.start()
        finally:
            stop_started = time.monotonic()
            launcher.stop()
            stopped = time.monotonic() - stop_started
        t = launcher.timings
        if "download" in t:
            print(f"download {t['download']:.1f}s  unpack {t['unpack']:.1f}s  (first use of the cache)")
        boot = f"boot {t['boot']:.1f}s  " if "boot" in t else ""
        print(f"run {run}: {boot}ready {t['ready']:.1f}s  stop {stopped:.1f}s")
        readies.append(t["ready"])
    if len(readies) > 1:
        print(f"ready: median {statistics.median(readies):.1f}s  min {min(readies):.1f}s  max {max(readies):.1f}s")


if __name__ == "__main__":
    main()
