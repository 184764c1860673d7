"""E2E fixtures: a running sandbox per test session, and ways to sign in as a demo user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.settings import SandboxSettings
from sandbox.testing.headless import HeadlessBrowser
from sandbox.testing.server import RunningSandbox, free_port, running_sandbox

USERS = {"alice": ("alice", "alice"), "bob": ("bob", "bob")}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", choices=["mock", "keycloak"], default="mock",
                     help="identity backend the e2e suite runs against (default: mock)")


def start_sandbox(request: pytest.FixtureRequest, state_dir: Path, **overrides: object):
    settings = SandboxSettings(
        backend=request.config.getoption("--backend"),
        port=free_port(),
        state_dir=state_dir,
        **overrides,
    )
    return running_sandbox(settings)


@pytest.fixture(scope="session")
def sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with start_sandbox(request, tmp_path_factory.mktemp("state")) as running:
        yield running


@pytest.fixture(scope="session")
def short_lived_sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """Proxy-issued access tokens live two seconds, so tests can watch them expire and refresh."""
    with start_sandbox(request, tmp_path_factory.mktemp("state-short"), access_token_lifetime=2) as running:
        yield running


@pytest.fixture
def headless_browser():
    def make(user: str = "alice", **kwargs: object) -> HeadlessBrowser:
        username, password = USERS[user]
        return HeadlessBrowser(username, password, **kwargs)

    return make


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
async def browser_page(request: pytest.FixtureRequest):
    """A fresh Chromium page; on failure every page the test reached is saved as a PNG."""
    from playwright.async_api import async_playwright

    from sandbox.testing.pages import PageTrail, launch_chromium

    trail = PageTrail()
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        page = await browser.new_page()
        try:
            yield page, trail
        finally:
            report = getattr(request.node, "report_call", None)
            if report is None or report.failed:
                directory = ARTIFACTS / request.node.name
                try:
                    await trail.record(page, "last")
                except Exception:  # the page may be gone; the trail so far still helps
                    pass
                saved = trail.save(directory)
                print(f"screenshots of the failing flow: {[str(p) for p in saved]}")
            await browser.close()
