import io
import os
import tarfile
from pathlib import Path

import pytest

from sandbox.backends.keycloak import cache
from sandbox.backends.keycloak.cache import UnpackError, ensure_distribution, remove_stale_partials, safe_unpack
from sandbox.backends.keycloak.maven import MavenError


def make_tar(path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def distribution_tar(path: Path, version: str = "26.7.3") -> Path:
    top = f"keycloak-{version}"
    return make_tar(path, {f"{top}/bin/kc.sh": b"#!/bin/sh\n", f"{top}/lib/quarkus-run.jar": b"jar"})


def test_safe_unpack_returns_the_distribution_directory(tmp_path: Path) -> None:
    home = safe_unpack(distribution_tar(tmp_path / "kc.tar.gz"), tmp_path / "out")
    assert home == tmp_path / "out" / "keycloak-26.7.3"
    assert os.access(home / "bin" / "kc.sh", os.X_OK)


@pytest.mark.parametrize(
    ("members", "symlinks"),
    [
        ({"../escape.txt": b"x"}, None),
        ({}, {"keycloak/evil": "/etc/passwd"}),
    ],
    ids=["parent-dir", "symlink-out"],
)
def test_safe_unpack_refuses_to_write_outside(tmp_path: Path, members, symlinks) -> None:
    archive = make_tar(tmp_path / "evil.tar.gz", members, symlinks=symlinks)
    with pytest.raises(UnpackError, match=r"cannot unpack evil\.tar\.gz"):
        safe_unpack(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_safe_unpack_keeps_absolute_names_inside(tmp_path: Path) -> None:
    target = tmp_path / "absolute.txt"
    archive = make_tar(tmp_path / "abs.tar.gz", {str(target): b"x"})
    with pytest.raises(UnpackError, match="not a Keycloak distribution"):
        safe_unpack(archive, tmp_path / "out")
    assert not target.exists()
    assert (tmp_path / "out" / str(target).lstrip("/")).is_file()


def test_safe_unpack_rejects_an_archive_that_is_not_keycloak(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "other.tar.gz", {"something/README": b"hi"})
    with pytest.raises(UnpackError, match="not a Keycloak distribution"):
        safe_unpack(archive, tmp_path / "out")


def fake_download(monkeypatch: pytest.MonkeyPatch, *, fail: bool = False) -> list[Path]:
    calls: list[Path] = []

    def download(version: str, output_dir: Path, log_file: Path) -> Path:
        calls.append(output_dir)
        archive = distribution_tar(output_dir / f"keycloak-quarkus-dist-{version}.tar.gz", version)
        if fail:
            raise MavenError("Maven download failed (exit 1)")
        return archive

    monkeypatch.setattr(cache, "download_distribution", download)
    return calls


def test_ensure_distribution_downloads_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_download(monkeypatch)
    messages: list[str] = []

    first = ensure_distribution("26.7.3", tmp_path, messages.append)
    second = ensure_distribution("26.7.3", tmp_path, messages.append)

    assert first.home == second.home == tmp_path / "keycloak" / "26.7.3"
    assert first.download_seconds is not None and second.download_seconds is None
    assert len(calls) == 1
    assert [m.split(":")[0] for m in messages] == ["download", "download", "unpack"]
    assert not [p for p in (tmp_path / "keycloak").iterdir() if p.name.startswith(".partial-")]


def test_interrupted_download_leaves_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_download(monkeypatch, fail=True)
    with pytest.raises(MavenError):
        ensure_distribution("26.7.3", tmp_path, lambda message: None)
    root = tmp_path / "keycloak"
    assert sorted(p.name for p in root.iterdir()) == ["logs"]


def test_stale_partials_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / ".partial-26.7.3-999999999"
    mine = tmp_path / f".partial-26.7.3-{os.getpid()}"
    dead.mkdir()
    mine.mkdir()
    remove_stale_partials(tmp_path)
    assert not dead.exists() and mine.exists()
