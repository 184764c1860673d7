"""Records in memory, each change appended to one file: per-record persistence.

The file is a header line, then one JSON line per change (``v`` null for a removal).
An append reaches the OS before the request that made it is answered, so a ``kill -9``
loses nothing acknowledged; it is synced to disk at most once a second (as Redis's
``appendfsync everysec``: a sync per line cost more than the whole-file rewrite it
replaces), so an OS crash may lose the last second. A torn last line (a kill inside an
append) is ignored on load. On
open, and once the file holds far more lines than live records, it is rewritten with
only the live records, atomically (:func:`~mock_idp.persist.write_atomic`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

from mock_idp.backing import Value
from mock_idp.backing.memory import MemoryBacking
from mock_idp.claims import InUseError, claim, release
from mock_idp.clock import Clock
from mock_idp.persist import move_aside, write_atomic

log = logging.getLogger("mock_idp")

VERSION = 2
_SYNC_EVERY = 1.0  # seconds
_COMPACT_AFTER = 1000  # appended lines, and at least four per live record
# (collection, key, value, ttl) records from a file of an older format.
Importer = Callable[[dict[str, Any]], Iterable[tuple[str, str, Value, float | None]]]


class JournalInUse(Exception):
    """Another live process has the journal open; the message is one line naming it."""


class JournalBacking(MemoryBacking):
    def __init__(self, path: Path, clock: Clock, importer: Importer) -> None:
        super().__init__(clock)
        self.path = path
        # One process at a time: the compaction below renames a new file over the journal, so a
        # second process would leave the first appending to a file no one reads again.
        try:
            self._claim: Path | None = claim(path.with_name(f"{path.name}.lock"))[0]
        except InUseError:
            raise JournalInUse(
                f"{path} is in use by another running mock IdP (a sandbox or mock-idp with the same "
                "--state-dir); stop it, or give this one its own --state-dir"
            ) from None
        self._appended = 0
        self._synced_at = 0.0
        self._handle: BinaryIO | None = None
        self._loading = True
        existed = self.path.exists()
        self._load(importer)
        self._loading = False
        if existed:  # a fresh state directory has nothing to rewrite (nor to sync: ~2 ms a realm at start)
            self._compact()

    def _load(self, importer: Importer) -> None:
        if not self.path.exists():
            return
        try:
            lines = self.path.read_bytes().split(b"\n")
            head = json.loads(lines[0])
            version = head.get("version") if isinstance(head, dict) else None
            if isinstance(version, int) and version > VERSION:
                raise ValueError(f"written by a newer mock IdP (format {version}; this one reads up to {VERSION})")
            if version not in (1, VERSION):
                raise ValueError("unexpected format or version")
            if head["version"] == 1:
                records = list(importer(head))  # all of it first: a bad file imports nothing
                for collection, key, value, ttl in records:
                    self.put(collection, key, value, ttl)
                return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            moved = move_aside(self.path)
            log.warning(
                "state file %s is corrupt (%s); kept it as %s and started with empty state", self.path, exc, moved.name
            )
            return
        self._replay(lines[1:])

    def _replay(self, lines: list[bytes]) -> None:
        now = self.clock.now()
        for number, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            try:
                change = json.loads(line)
                collection, key, value, expires_at = change["c"], change["k"], change["v"], change["x"]
            except (ValueError, KeyError, TypeError) as exc:
                if number < len(lines) + 1:  # the last line may be torn by a kill; others may not
                    log.warning("state file %s: skipped line %d (%s)", self.path, number, exc)
                continue
            if value is None:
                self._data.get(collection, {}).pop(key, None)
            elif expires_at is None or expires_at > now:
                self._data.setdefault(collection, {})[key] = (value, expires_at)

    def _changed(self, collection: str, key: str, value: Value | None, expires_at: float | None) -> None:
        if self._loading:
            return
        line = json.dumps({"c": collection, "k": key, "v": value, "x": expires_at}, separators=(",", ":"))
        if self._handle is None:
            self._handle = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open for appends
            if self._handle.tell() == 0:  # the file's first line: no compaction wrote the header
                self._handle.write(_header() + b"\n")
        self._handle.write(line.encode("utf-8") + b"\n")
        if time.monotonic() - self._synced_at >= _SYNC_EVERY:
            os.fdatasync(self._handle.fileno())
            self._synced_at = time.monotonic()
        self._appended += 1
        if self._appended > _COMPACT_AFTER and self._appended > 4 * sum(len(each) for each in self._data.values()):
            self._compact()

    def _compact(self) -> None:
        lines = [_header().decode("utf-8")]
        lines += [
            json.dumps({"c": c, "k": k, "v": v, "x": exp}, separators=(",", ":")) for c, k, v, exp in self.entries()
        ]
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        write_atomic(self.path, ("\n".join(lines) + "\n").encode("utf-8"))
        self._appended = 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._claim is not None:
            release(self._claim)
            self._claim = None


def _header() -> bytes:
    return json.dumps({"version": VERSION}).encode("utf-8")
