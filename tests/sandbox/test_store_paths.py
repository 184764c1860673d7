"""A copied or moved state directory keeps its proxy store (sandbox/store_paths.py), and when that can go."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from key_value.aio.stores.filetree import (
    FileTreeStore,
    FileTreeV1CollectionSanitizationStrategy,
    FileTreeV1KeySanitizationStrategy,
)

from sandbox.state import StateDir


def recorded_directory(store: Path) -> str:
    """The directory the store's one collection record names."""
    (info,) = store.glob("*-info.json")
    return json.loads(info.read_text())["directory"]


async def test_upstream_py_key_value_still_records_absolute_collection_paths(tmp_path: Path) -> None:
    """When this fails, py-key-value records where a collection is relative to its store:
    delete sandbox/store_paths.py and its call in sandbox/state.py."""
    store = FileTreeStore(
        data_directory=tmp_path,
        key_sanitization_strategy=FileTreeV1KeySanitizationStrategy(tmp_path),
        collection_sanitization_strategy=FileTreeV1CollectionSanitizationStrategy(tmp_path),
    )
    await store.put(key="k", value={"v": 1}, collection="clients")
    assert Path(recorded_directory(tmp_path)).is_absolute()


async def test_a_copied_state_directory_keeps_what_its_store_held(tmp_path: Path) -> None:
    """The copy died at start-up with a ~50-line PathSecurityError traceback: every record
    pointed into the original, which need not exist any more (a move)."""
    original, copy = tmp_path / "original", tmp_path / "copy"
    await StateDir(original).encrypted_storage("file").put(key="client-1", value={"n": 1}, collection="clients")
    shutil.copytree(original, copy)
    shutil.rmtree(original)  # moved, not copied: nothing is left where the records pointed
    assert await StateDir(copy).encrypted_storage("file").get(key="client-1", collection="clients") == {"n": 1}
    assert recorded_directory(copy / "proxy-store").startswith(str(copy.resolve()))
