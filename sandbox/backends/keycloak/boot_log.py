"""Follow Keycloak's log while it boots: report phases as they finish, and find the line that explains a failure."""

from __future__ import annotations

import re
import time
from pathlib import Path

from sandbox.backends.keycloak.base import Progress

_AUGMENTED = re.compile(r"Quarkus augmentation completed in (\d+)ms")
_IMPORT_STARTED = re.compile(r"Importing from directory|Full importing from file")
_REALM_IMPORTED = re.compile(r"Realm '([^']+)' imported")
_REALM_SKIPPED = re.compile(r"Realm '([^']+)' already exists")
_STARTED = re.compile(r"Keycloak [\w.\-]+ on JVM .* started in")
_ERROR = re.compile(r"\b(ERROR|FATAL)\b|Exception|Error:")


class BootLog:
    def __init__(self, path: Path, progress: Progress) -> None:
        self.path = path
        self.progress = progress
        self.started = time.monotonic()
        self.booted_at: float | None = None
        self._offset = 0
        self._partial = ""

    def poll(self) -> None:
        """Read what Keycloak wrote since the last call and report finished phases."""
        try:
            with self.path.open("rb") as log:
                log.seek(self._offset)
                chunk = log.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        text = self._partial + chunk.decode("utf-8", errors="replace")
        *lines, self._partial = text.split("\n")
        for line in lines:
            self._on_line(line)

    def _on_line(self, line: str) -> None:
        now = time.monotonic()
        if match := _AUGMENTED.search(line):
            self.progress(
                f"boot: re-augmented the server in {int(match.group(1)) / 1000:.1f}s (first run on this build)"
            )
        elif _IMPORT_STARTED.search(line) and self.booted_at is None:
            self.booted_at = now
            self.progress(f"boot: done in {now - self.started:.1f}s")
        elif match := _REALM_IMPORTED.search(line):
            self.progress(f"realm import: '{match.group(1)}' imported in {now - (self.booted_at or self.started):.1f}s")
        elif match := _REALM_SKIPPED.search(line):
            self.progress(f"realm import: '{match.group(1)}' kept from the previous run, import skipped")
        elif _STARTED.search(line) and self.booted_at is None:
            self.booted_at = now
            self.progress(f"boot: done in {now - self.started:.1f}s")

    def tail(self, count: int = 20) -> list[str]:
        try:
            lines = self.path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        return [line for line in lines if line.strip()][-count:]

    def cause(self) -> str:
        """The most telling recent line: the last error, else the last line."""
        lines = self.tail(200)
        errors = [line for line in lines if _ERROR.search(line)]
        line = (errors or lines or ["(log is empty)"])[-1].strip()
        return line if len(line) <= 240 else line[:237] + "..."
