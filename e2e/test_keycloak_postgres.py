"""Keycloak on PostgreSQL (`--keycloak-db`): what the realm learnt survives a Keycloak restart.

A PostgreSQL of its own (Debian's server, on a free port) and the distribution launcher with
`--db=postgres`, booted twice: the only test here that boots a Keycloak besides the session's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastmcp import Client
from key_value.aio.stores.memory import MemoryStore

from sandbox.backends.keycloak.choose import distribution_unavailable_reason
from sandbox.idp_control import IdpControl
from sandbox.settings import SandboxSettings
from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.postgres import PostgresServer, PostgresUnavailable, postgres_server
from sandbox.testing.server import IsolatedSettings, RunningSandbox, free_port, running_sandbox

pytestmark = pytest.mark.keycloak


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    try:
        with postgres_server() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def distribution() -> None:
    if os.environ.get("SANDBOX_KEYCLOAK_LAUNCHER") == "container":
        # --keycloak-db runs the distribution launcher whatever the pass is for; CI's distribution
        # pass of `make test-keycloak` runs this, so the container pass need not boot it twice more.
        pytest.skip("Keycloak on PostgreSQL uses the distribution launcher: tested in the distribution pass")
    if reason := distribution_unavailable_reason():
        pytest.skip(f"Keycloak distribution unavailable: {reason}")


async def sign_in(running: RunningSandbox, user: str, password: str, storage: MemoryStore) -> tuple[str, int]:
    """greet's answer as `user`, and how many login pages the sign-in needed."""
    browser = HeadlessBrowser(user, password)
    async with Client(running.mcp_url, auth=HeadlessOAuth(browser, token_storage=storage)) as client:
        greeting = await client.call_tool("greet", {"name": "postgres"})
    return str(greeting.data), len(browser.pages)


def keycloak_log(running: RunningSandbox) -> str:
    launcher = running.sandbox.backend.launcher  # type: ignore[attr-defined]
    return Path(launcher.log_file).read_text(errors="replace")


@pytest.mark.usefixtures("distribution")
async def test_a_user_created_through_idp_signs_in_after_a_keycloak_restart(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    settings: SandboxSettings = IsolatedSettings(
        backend="keycloak",
        keycloak_launcher="distribution",
        keycloak_db=postgres.url,
        # The same ports both times: the realm, imported once, lists this sandbox's callback.
        port=free_port(),
        keycloak_port=free_port(),
        keycloak_management_port=free_port(),
        state_dir=tmp_path / "state",
    )
    kept_tokens = MemoryStore()

    with running_sandbox(settings, startup_timeout=240) as first:
        assert "Realm 'sandbox' imported" in keycloak_log(first)
        realm_base = first.sandbox.upstream.realm_url.removesuffix("realms/sandbox")
        IdpControl(realm_base, "sandbox", "keycloak").create_user("pg-carol", "carol-pw", roles=["mcp-user"])
        greeting, pages = await sign_in(first, "pg-carol", "carol-pw", kept_tokens)
        assert "signed in as pg-carol" in greeting
        assert pages > 0

    with running_sandbox(settings, startup_timeout=240) as second:
        # Keycloak's import skips a realm that exists: the database's, changes included, stays.
        assert "Realm 'sandbox' already exists. Import skipped" in keycloak_log(second)
        greeting, pages = await sign_in(second, "pg-carol", "carol-pw", MemoryStore())
        assert "signed in as pg-carol" in greeting
        assert pages > 0  # a fresh client really logged in, with the password Keycloak kept
        # The first client's tokens still work: Keycloak's signing keys and sessions were kept too.
        greeting, pages = await sign_in(second, "pg-carol", "carol-pw", kept_tokens)
        assert "signed in as pg-carol" in greeting
        assert pages == 0
