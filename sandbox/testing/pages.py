"""Playwright page objects for the pages a person meets during the flow.

The login selectors are Keycloak's own (the mock IdP copies them), so one script drives
both backends. Every page object records a screenshot on arrival; a failing test saves
them all (see ``PageTrail``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from playwright.async_api import Browser, Page, Playwright

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_executable() -> str | None:
    """A system Chromium when there is one (``SANDBOX_CHROMIUM`` wins); None means Playwright's own build."""
    configured = os.environ.get("SANDBOX_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


async def launch_chromium(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_FLAGS, headless=True)


@dataclass
class PageTrail:
    """Screenshots of each page reached, in order, for the failure report."""

    shots: list[tuple[str, bytes]] = field(default_factory=list)

    async def record(self, page: Page, name: str) -> None:
        self.shots.append((name, await page.screenshot(full_page=True)))

    def save(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, (name, data) in enumerate(self.shots, start=1):
            path = directory / f"{index:02d}-{name}.png"
            path.write_bytes(data)
            paths.append(path)
        return paths


class _FlowPage:
    """One page of the flow: found by ``SELECTOR``, screenshot into the trail as ``NAME``."""

    SELECTOR: str
    NAME: str

    def __init__(self, page: Page, trail: PageTrail | None = None) -> None:
        self.page = page
        self.trail = trail

    async def wait(self) -> Self:
        await self.page.wait_for_selector(self.SELECTOR)
        if self.trail:
            await self.trail.record(self.page, self.NAME)
        return self


class ConsentPage(_FlowPage):
    """FastMCP's consent screen, shown by the proxy before anything goes upstream."""

    SELECTOR = "form#consentForm"
    NAME = "consent"

    async def approve(self) -> None:
        await self.page.get_by_role("button", name="Allow Access").click()

    async def deny(self) -> None:
        await self.page.get_by_role("button", name="Deny").click()


class LoginPage(_FlowPage):
    """The IdP's login form: Keycloak's, or the mock's copy of it."""

    SELECTOR = "form#kc-form-login"
    NAME = "login"

    async def login(self, username: str, password: str) -> None:
        await self.page.fill("#username", username)
        await self.page.fill("#password", password)
        await self.page.click("#kc-login")

    async def error(self) -> str:
        """The visible error after a refused login."""
        locator = self.page.locator("#input-error-username")
        await locator.wait_for(state="visible")
        if self.trail:
            await self.trail.record(self.page, "login-error")
        return (await locator.inner_text()).strip()


class IdpConsentPage(_FlowPage):
    """Keycloak's own consent screen (clients registered at the IdP with consent required)."""

    SELECTOR = "#kc-oauth"
    NAME = "idp-consent"

    async def accept(self) -> None:
        await self.page.click("button[name=accept], input[name=accept]")
