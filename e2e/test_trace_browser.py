"""In Chromium: /sandbox/trace shows a flow's steps as they happen, without a reload."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from e2e_trace_support import traced_sandbox
from fastmcp import Client
from key_value.aio.stores.memory import MemoryStore

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.options import sandbox_backend

pytestmark = pytest.mark.browser

# Saved on every run, pass or fail: the page as a learner sees it after one flow.
SCREENSHOT = Path(__file__).resolve().parent.parent / "test-artifacts" / "trace" / "trace-page.png"
LAYOUT_SCREENSHOT = SCREENSHOT.with_name("trace-page-1280.png")


@pytest.fixture(scope="module")
def traced(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if sandbox_backend(request.config) != "mock":
        pytest.skip("the trace suite drives the in-process mock IdP")
    with traced_sandbox(tmp_path_factory.mktemp("trace-browser"), "proxy") as running:
        yield running


async def test_trace_page_shows_steps_appear_live(traced, browser_page):
    running, realm = traced
    page, _trail = browser_page
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
        for kind in (
            "registration",
            "consent_shown",
            "idp_login",
            "upstream_token_exchange",
            "token_issued",
            "mcp_call",
        ):
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


# Read in the page: every box that must not overlap another, and what each one says.
LAYOUT_PROBE = """
() => {
  const box = (node) => { const r = node.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const name = (node) => node.className + " '" + (node.textContent || "").slice(0, 40) + "'";
  const overlaps = [];
  for (const row of document.querySelectorAll(".step")) {
    const parts = [...row.querySelectorAll(".num, .label, .tag, .arrow")];
    const rowBox = box(row);
    for (let i = 0; i < parts.length; i++) {
      const a = box(parts[i]);
      if (a.top < rowBox.top || a.bottom > rowBox.bottom || a.right > rowBox.right + 0.5) overlaps.push(row.dataset.kind + ": " + name(parts[i]) + " leaves its row");
      for (let j = i + 1; j < parts.length; j++) {
        if (meets(a, box(parts[j]))) overlaps.push(row.dataset.kind + ": " + name(parts[i]) + " over " + name(parts[j]));
      }
    }
  }
  for (const details of document.querySelectorAll(".details")) {
    for (const line of document.querySelectorAll(".life")) {
      if (meets(box(line), box(details))) overlaps.push("a lifeline crosses the details of " + details.previousSibling.dataset.kind);
    }
  }
  const labels = [...document.querySelectorAll(".step .label, .step .tag")];
  return {
    overlaps,
    withoutFullText: labels.filter((l) => l.title !== l.textContent).map(name),
    cut: labels.filter((l) => l.scrollWidth > l.clientWidth).length,
    pageWidth: document.documentElement.scrollWidth,
    legend: [...document.querySelectorAll("#legend span")].map((s) => s.textContent),
  };
}
"""


async def test_trace_page_at_1280_px_has_nothing_overlapping(traced, browser_page):
    running, realm = traced
    page, _ = browser_page
    await page.set_viewport_size({"width": 1280, "height": 900})
    auth = HeadlessOAuth(HeadlessBrowser("bob", realm.passwords["bob"]), token_storage=MemoryStore())
    async with Client(running.mcp_url, auth=auth) as client:
        await client.call_tool("greet", {"name": "layout"})
    await page.goto(f"{running.base_url}/sandbox/trace")
    await page.wait_for_selector('.step[data-kind="token_issued"]')
    for kind in ("unauthorized", "upstream_token_exchange", "token_issued"):
        await page.locator(f'.step[data-kind="{kind}"]').first.click()
    await page.locator(".details").nth(2).wait_for()
    try:
        layout = await page.evaluate(LAYOUT_PROBE)
        assert layout["overlaps"] == []
        assert layout["withoutFullText"] == []  # every label has all of its text on hover
        assert layout["pageWidth"] <= 1280
        assert len(layout["legend"]) >= 4 and any("proxy ↔ IdP" in entry for entry in layout["legend"])
        # Epoch claims carry their ISO time next to them.
        jwt_details = await page.locator(".details").last.inner_text()
        assert re.search(r'"exp": "\d{10} \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)"', jwt_details), jwt_details
        assert re.search(r'"iat": "\d{10} \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)"', jwt_details)
    finally:
        LAYOUT_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        LAYOUT_SCREENSHOT.write_bytes(await page.screenshot(full_page=True))
