"""In Chromium: /sandbox/trace shows a flow's steps as they happen, without a reload."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from e2e_trace_support import traced_sandbox
from fastmcp import Client
from key_value.aio.stores.memory import MemoryStore

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth

pytestmark = pytest.mark.browser

# Saved on every run, pass or fail: the page as a learner sees it after one flow.
SCREENSHOT = Path(__file__).resolve().parent.parent / "test-artifacts" / "trace" / "trace-page.png"


@pytest.fixture(scope="module")
def traced(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.config.getoption("--backend") != "mock":
        pytest.skip("the trace suite drives the in-process mock IdP")
    with traced_sandbox(tmp_path_factory.mktemp("trace-browser"), "proxy") as running:
        yield running


async def test_trace_page_shows_steps_appear_live(traced, browser_page):
    running, realm = traced
    page, trail = browser_page
    await page.set_viewport_size({"width": 1400, "height": 1100})
    await page.goto(f"{running.base_url}/sandbox/trace")
    await page.wait_for_function("document.getElementById('status').textContent === 'live'")
    assert await page.locator(".step").count() == 0
    await page.evaluate("window.__notReloaded = true")

    async def flow() -> str:
        auth = HeadlessOAuth(HeadlessBrowser("alice", realm.passwords["alice"]), token_storage=MemoryStore())
        async with Client(running.mcp_url, auth=auth) as client:
            return (await client.call_tool("greet", {"name": "live"})).data

    try:
        task = asyncio.create_task(flow())
        try:
            # The first hops show up while the client is still on its way.
            await page.wait_for_selector('.step[data-kind="unauthorized"]', timeout=15000)
            greeting = await asyncio.wait_for(task, 30)
        finally:
            task.cancel()
        assert "signed in as alice" in greeting
        for kind in ("registration", "consent_shown", "idp_login", "upstream_token_exchange", "token_issued", "mcp_call"):
            await page.wait_for_selector(f'.step[data-kind="{kind}"]', timeout=10000)
        assert await page.evaluate("window.__notReloaded === true")
        kinds = await page.eval_on_selector_all(".step", "rows => rows.map(r => r.dataset.kind)")
        assert kinds[:4] == ["unauthorized", "prm_discovery", "as_metadata", "registration"]
        assert await page.locator(".step .arrow").count() >= 2 * 12
        assert await page.locator(".flow").count() == 1
        assert "alice" in await page.locator(".flow .who").inner_text()

        # A row opens its explanation, with the RFC section.
        await page.locator('.step[data-kind="unauthorized"]').click()
        details = page.locator(".details")
        await details.wait_for()
        assert "RFC 9728 §5.1" in await details.inner_text()
        await page.locator('.step[data-kind="token_issued"]').click()
        assert "signature cut" in await page.locator(".details").last.inner_text()
    finally:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(await page.screenshot(full_page=True))
    assert SCREENSHOT.stat().st_size > 10_000
