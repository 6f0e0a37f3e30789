"""The secretariat's dashboard in a real browser (Debian's chromium driven by Playwright), after the
users' paths have put a scored institution, a lagging branch and its reminders into the platform.
The screenshot is kept as test-artifacts/dashboard.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e_api import Platform, token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"  # `make browser` installs it; Playwright downloads no browser here


async def test_the_secretariat_opens_the_dashboard_and_sees_the_quarter(platform: Platform, alliance: Any) -> None:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{platform.urls['evaluation']}/?token={token('secretariat')}")
            await page.wait_for_selector('#view[data-ready="overview"]', timeout=30_000)
            await page.wait_for_load_state("networkidle")
            await page.wait_for_timeout(1500)  # charts animate in
            await page.screenshot(path=str(shot), full_page=True)
            text = await page.inner_text("body")
        finally:
            await browser.close()
    assert not errors, errors
    assert "联盟" in text and "请登录" not in text, text[:500]
    assert shot.stat().st_size > 20_000
