"""What the project's own suites share across tests/ and e2e/ (the plugin's fixtures come from
its entry point, as in any project)."""

from __future__ import annotations

from pathlib import Path

import pytest

# Suites that run on both backends through the plugin's fixtures (`--sandbox-backend keycloak`).
PLUGIN_SUITES_ON_BOTH_BACKENDS = (Path(__file__).parent / "tests" / "security",)


@pytest.hookimpl(tryfirst=True)  # before -m deselects anything
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # With --sandbox-backend keycloak these need the real Keycloak: `-m keycloak` selects them in
    # the one `make test-keycloak` run, which shares one Keycloak between them and e2e/.
    from sandbox.testing.options import sandbox_backend

    if sandbox_backend(config) != "keycloak":
        return
    for item in items:
        if any(item.path.is_relative_to(suite) for suite in PLUGIN_SUITES_ON_BOTH_BACKENDS):
            item.add_marker(pytest.mark.keycloak)
