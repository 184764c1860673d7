"""How the plugin reads its ini keys (sandbox/testing/options.py), without starting a stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.testing.options import _given


class IniOnly:
    """A pytest config with only ``sandbox_realm`` set, from an ini file or from ``-o``."""

    def __init__(self, rootpath: Path, inipath: Path | None) -> None:
        self.rootpath, self.inipath = rootpath, inipath

    def getoption(self, name: str) -> Any:
        return None

    def getini(self, name: str) -> Any:
        return "realm.json" if name == "sandbox_realm" else ""


@pytest.mark.parametrize("ini", [True, False], ids=["ini-file", "dash-o"])
def test_sandbox_realm_is_read_beside_the_ini_file_or_in_the_rootdir(tmp_path: Path, monkeypatch, ini: bool) -> None:
    """With no ini file (``-o sandbox_realm=realm.json``) it was looked for in the rootdir's parent."""
    monkeypatch.delenv("SANDBOX_REALM_FILE", raising=False)
    monkeypatch.delenv("SANDBOX_BACKEND", raising=False)
    config = IniOnly(tmp_path, tmp_path / "pytest.ini" if ini else None)
    assert _given(config)["realm_file"] == tmp_path / "realm.json"  # type: ignore[arg-type]
