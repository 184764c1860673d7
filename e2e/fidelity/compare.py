"""Diff two observations leaf by leaf, minus the listed differences; read and write Keycloak's recording."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fidelity.intended import INTENDED, OPEN

RECORDED = Path(__file__).resolve().parent / "recorded"
MISSING = "<absent>"


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """``{"body.error": "invalid_grant", "status": 400, ...}``; lists keep their index."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{path}.{key}" if path else str(key)))
        return flat
    if isinstance(value, list) and value and any(isinstance(item, (dict, list)) for item in value):
        flat = {}
        for index, item in enumerate(value):
            flat.update(flatten(item, f"{path}[{index}]"))
        return flat
    return {path: value}


def differences(expected: Any, actual: Any) -> dict[str, tuple[Any, Any]]:
    """Every leaf path whose value differs: ``{path: (keycloak's, mock's)}``."""
    want, got = flatten(expected), flatten(actual)
    return {
        path: (want.get(path, MISSING), got.get(path, MISSING))
        for path in sorted(want.keys() | got.keys())
        if want.get(path, MISSING) != got.get(path, MISSING)
    }


def listed(case: str) -> dict[str, str]:
    """The patterns listed for ``case``, intended or open, with their reasons."""
    entries = {**INTENDED, **OPEN}
    return {pattern: reason for (name, pattern), reason in entries.items() if name == case}


def matches(path: str, pattern: str) -> bool:
    """``*`` matches anything; every other character, ``[`` and ``]`` included, only itself."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), path) is not None


def unexplained(case: str, found: dict[str, tuple[Any, Any]]) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    """Differences no entry explains, and entries that explain nothing (stale)."""
    patterns = listed(case)
    left = {path: pair for path, pair in found.items() if not any(matches(path, pattern) for pattern in patterns)}
    stale = [pattern for pattern in patterns if not any(matches(path, pattern) for path in found)]
    return left, stale


def report(case: str, left: dict[str, tuple[Any, Any]], stale: list[str]) -> str:
    lines = [f"{case}: the mock differs from Keycloak"] if left else []
    lines += [f"  {path}: keycloak {json.dumps(want)} / mock {json.dumps(got)}" for path, (want, got) in left.items()]
    lines += [
        f"{case}: listed difference {pattern!r} no longer differs; delete it from fidelity/intended.py"
        for pattern in stale
    ]
    return "\n".join(lines)


def recording_path(version: str) -> Path:
    return RECORDED / f"keycloak-{version}.json"


def load_recording(version: str) -> dict[str, Any]:
    data = json.loads(recording_path(version).read_text(encoding="utf-8"))
    if data.get("keycloak_version") != version:
        raise ValueError(f"{recording_path(version)} records Keycloak {data.get('keycloak_version')}, not {version}")
    return data["cases"]


def save_recording(version: str, cases: dict[str, Any]) -> Path:
    path = recording_path(version)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"keycloak_version": version, "cases": dict(sorted(cases.items()))}
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path
