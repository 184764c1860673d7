"""One real Keycloak per pytest session, shared by every sandbox that needs one.

A Keycloak boot is most of a Keycloak test run, so the e2e suite, the plugin's stacks and the
plugin tests' own pytest runs (which attach through SANDBOX_KEYCLOAK_URL) share one. Its realm
must list each sandbox's callback and audience before it boots, so the session reserves sandbox
ports up front and lists them all; each sandbox claims one. When they run out, or a sandbox
comes with a port of its own, that sandbox gets a Keycloak of its own, as before: slower, never
wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.backends.keycloak.base import KeycloakInfo, KeycloakLauncher
from sandbox.settings import DEFAULT_REALM_FILE

# More than a session uses today (e2e's 12 named sandboxes, the plugin's stack, a plugin test's
# run): an unclaimed port costs a few lines in the realm.
RESERVED_PORTS = 20

_KEY = pytest.StashKey["SessionKeycloak"]()


class SessionKeycloak:
    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        from sandbox.testing.server import free_port

        self.tmp_path_factory = tmp_path_factory
        self._unclaimed = [free_port() for _ in range(RESERVED_PORTS)]
        self.ports = tuple(self._unclaimed)
        self.launcher: KeycloakLauncher | None = None
        self.info: KeycloakInfo | None = None
        self._failed: BaseException | None = None

    def claim_port(self) -> int | None:
        """A sandbox port the shared realm lists, or None when every one is taken."""
        return self._unclaimed.pop(0) if self._unclaimed else None

    def start(self) -> tuple[KeycloakLauncher, KeycloakInfo]:
        """The running Keycloak, booted on first use; a failed boot is not retried per test."""
        from sandbox.testing.server import shared_keycloak_launcher

        if self._failed is not None:
            raise self._failed
        if self.launcher is None or self.info is None:
            base_urls = [f"http://localhost:{port}" for port in self.ports]
            launcher = shared_keycloak_launcher(
                base_urls, self.tmp_path_factory.mktemp("keycloak"), realm_file=DEFAULT_REALM_FILE
            )
            try:
                self.info = launcher.start()
            except BaseException as exc:
                self._failed = exc
                raise
            self.launcher = launcher
        return self.launcher, self.info

    def stop(self) -> None:
        if self.launcher is not None:
            self.launcher.stop()


def session_keycloak(config: pytest.Config) -> SessionKeycloak:
    """This session's shared Keycloak (not booted until someone starts it); stopped at the end."""
    if _KEY not in config.stash:
        shared = config.stash[_KEY] = SessionKeycloak(_tmp_path_factory(config))
        config.add_cleanup(shared.stop)
    return config.stash[_KEY]


def _tmp_path_factory(config: pytest.Config) -> pytest.TempPathFactory:
    # pytest's tmpdir plugin keeps the session's factory on the config.
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        factory = pytest.TempPathFactory.from_config(config, _ispytest=True)
    return factory


def default_realm(realm_file: Path) -> bool:
    """Only sandboxes on the project's own realm can share: the shared realm is built from it."""
    return realm_file.resolve() == DEFAULT_REALM_FILE.resolve()
