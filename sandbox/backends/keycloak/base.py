"""What every Keycloak launcher shares: its result, its error and its interface."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

# 26.6+ is needed for dynamic client registration; 26.7.x is what Maven Central serves.
KEYCLOAK_VERSION = "26.7.3"

Progress = Callable[[str], None]


class KeycloakStartError(RuntimeError):
    """Keycloak could not be started; the message is one line: the cause, then where the log is."""


@dataclass(frozen=True)
class KeycloakInfo:
    # The hostname is pinned to "localhost" so token issuers never flip to 127.0.0.1.
    realm_url: str
    base_url: str
    admin_username: str
    admin_password: str
    log_file: Path | None


class KeycloakLauncher(Protocol):
    def start(self) -> KeycloakInfo:
        """Block until the realm answers discovery; raise KeycloakStartError otherwise."""
        ...

    def stop(self) -> None:
        """Stop Keycloak; safe to call twice, or before start()."""
        ...

    def __enter__(self) -> KeycloakInfo: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class LauncherContext:
    """`with launcher as info:` starts Keycloak and always stops it."""

    def start(self) -> KeycloakInfo:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> KeycloakInfo:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def read_realm_name(realm_file: Path) -> str:
    try:
        return str(json.loads(realm_file.read_text())["realm"])
    except FileNotFoundError:
        raise KeycloakStartError(f"realm file not found: {realm_file}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise KeycloakStartError(f"realm file {realm_file} has no realm name: {exc}") from None


def no_progress(message: str) -> None:
    pass
