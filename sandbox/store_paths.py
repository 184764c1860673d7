"""A proxy store that was copied or moved keeps working: its collections' recorded paths follow it.

py-key-value's FileTreeStore records each collection's absolute directory in its
``<collection>-info.json`` (``DiskCollectionInfo.to_dict``) and reads it back as the
collection's home; once the state directory is copied (a backup, a container volume) or
moved, every collection resolves outside the store and start-up dies with
``PathSecurityError: ... resolves outside the allowed directory``. The collection
directories sit beside their info files, so each record is pointed back at its own.
tests/sandbox/test_store_paths.py FAILS once py-key-value records a relative path; delete
this module then.
"""

from __future__ import annotations

import json
from pathlib import Path

from mock_idp.persist import write_atomic


def follow_moves(store: Path) -> list[Path]:
    """Point every collection record in ``store`` at the directory beside it; the records changed."""
    here = store.resolve()
    changed: list[Path] = []
    for info in here.glob("*-info.json"):
        try:
            record = json.loads(info.read_bytes())
        except (OSError, ValueError):
            continue  # py-key-value reads it as it is, and says what is wrong with it
        recorded = record.get("directory") if isinstance(record, dict) else None
        if not isinstance(recorded, str):
            continue
        beside = here / Path(recorded).name
        if Path(recorded) != beside and beside.is_dir():
            write_atomic(info, json.dumps({**record, "directory": str(beside)}).encode("utf-8"), mode=0o644)
            changed.append(info)
    return changed
