"""Screenshots of a failing browser test: the one place that knows a test failed and saves its pages.

The plugin's ``pytest_runtest_makereport`` hook stores each phase's report on the item
(:func:`remember_report`); :func:`chromium_page` reads it when the test ends and, if the call
failed, saves every page the test reached under ``test-artifacts/<test>/``. ``browser_login``
and the e2e suite's ``browser_page`` both go through it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Page

    from sandbox.testing.pages import PageTrail

ARTIFACTS_DIR = "test-artifacts"
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def remember_report(item: pytest.Item, report: pytest.TestReport) -> None:
    item.stash.setdefault(_REPORTS, {})[report.when] = report


def item_report(item: pytest.Item, when: str) -> pytest.TestReport | None:
    return item.stash.get(_REPORTS, {}).get(when)


def artifacts_dir(item: pytest.Item) -> Path:
    return Path(item.config.rootpath) / ARTIFACTS_DIR / item.name


@contextlib.asynccontextmanager
async def chromium_page(item: pytest.Item, *, fixture: str) -> AsyncIterator[tuple[Page, PageTrail]]:
    """A fresh Chromium page for ``fixture`` and the trail its page objects screenshot into;
    when the test's call failed (or never ran), the trail is saved as PNGs."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail(f"{fixture} needs Playwright: pip install 'mcp-oauth-sandbox[test]'", pytrace=False)

    from sandbox.testing.pages import PageTrail, launch_chromium

    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        page, trail = await browser.new_page(), PageTrail()
        try:
            yield page, trail
        finally:
            report = item_report(item, "call")
            if report is None or report.failed:
                with contextlib.suppress(Exception):  # the page may be gone; the trail so far still helps
                    await trail.record(page, "last")
                saved = trail.save(artifacts_dir(item))
                print(f"screenshots of the failing flow: {[str(path) for path in saved]}")
            await browser.close()
