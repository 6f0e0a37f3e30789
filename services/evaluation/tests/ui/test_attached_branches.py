"""The host institution's drill-down in headless Chromium lists the branch of another institution
attached to its committee (挂靠党支部), labelled by its kind, with the committee it is attached to and
its own institution by name; screenshotted under test-artifacts/ui/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

pytestmark = pytest.mark.integration
PERIOD = "2026-Q3"
ATTACHED = "深圳丙融资担保有限公司党支部（挂靠于深圳市金融行业协会党委）"  # as the `hosted` fixture names it


async def test_the_hosts_drill_down_lists_the_attached_branch_by_its_kind_and_institution(
    browser: Browser, hosted: Any, artifacts: Path
) -> None:
    for size, viewport in (("desktop", {"width": 1400, "height": 1000}), ("phone", {"width": 390, "height": 844})):
        context = await browser.new_context(viewport=viewport, locale="zh-CN")
        page = await context.new_page()
        await page.goto(f"{hosted.server.url}/?token={hosted.token()}&period={PERIOD}#/institution/ah")
        await page.wait_for_selector('#view[data-ready="institution"]', timeout=30_000)
        row = page.locator('#attached tr[data-id="ao-a"]')
        text = await row.inner_text()
        for expected in (ATTACHED, "挂靠党支部", "中共深圳市金融行业协会委员会", "深圳丙融资担保有限公司"):
            assert expected in text, (expected, text)
        assert await page.locator('#branches tr[data-id="ao-a"]').count() == 0  # scored with its own institution
        await page.locator("#attached-branches").scroll_into_view_if_needed()
        await page.screenshot(path=str(artifacts / f"13-attached-branch-{size}.png"), full_page=True)
        await context.close()
    page = await (await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")).new_page()
    await page.goto(f"{hosted.server.url}/?token={hosted.token()}&period={PERIOD}#/institution/ao")
    await page.wait_for_selector('#view[data-ready="institution"]', timeout=30_000)
    owner_row = await page.locator('#branches tr[data-id="ao-a"]').inner_text()
    assert ATTACHED in owner_row and "挂靠党支部" in owner_row
