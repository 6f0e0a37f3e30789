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


# the heat map's rows as a person reads them: each name cell's text, its title, and whether the text
# is cut (wider than its cell) or wrapped onto more than one line
HEAT_ROWS = """() => [...document.querySelectorAll('#heatmap tbody tr[data-org]')].map(tr => {
  const lines = (td) => { const r = document.createRange(); r.selectNodeContents(td.querySelector('a') || td);
    return new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top))).size; };
  const read = (td) => ({ text: (td.querySelector('a') || td).innerText.trim(), title: td.title,
    cut: td.scrollWidth > td.clientWidth + 1, lines: lines(td) });
  return { org: tr.dataset.org, branch: read(tr.querySelector('td.heat-branch')),
           institution: read(tr.querySelector('td.heat-inst')), months: tr.querySelectorAll('td.heat').length };
})"""
SIZES = {"desktop": {"width": 1440, "height": 1000}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", list(SIZES))
async def test_the_heat_map_names_each_branch_and_institution_whole_and_switches_to_twelve_months(
    platform: Platform, alliance: Any, size: str
) -> None:
    from alliance_shared.testing import wait_for
    from e2e_api import current_period
    from playwright.async_api import async_playwright

    period = current_period()
    async with platform.client("registry", token=token("secretariat")) as registry:
        institution = (await registry.get(f"/api/v1/institutions/{alliance.institution_id}")).json()["name"]
    async with platform.client("evaluation", token=token("secretariat")) as evaluation:

        async def scored() -> bool:  # the institution's branches are in the quarter's rank rows
            r = await evaluation.get("/api/v1/dashboard/heatmap",
                                     params={"period": period, "institution_id": alliance.institution_id})
            return r.status_code == 200 and {alliance.branch, alliance.lagging} <= {
                i["organization_id"] for i in r.json()["items"]}

        await wait_for(scored, timeout_s=60, interval_s=0.5, what="the institution's branches on the heat map")
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport=SIZES[size], locale="zh-CN", is_mobile=size == "phone",
                                          has_touch=size == "phone")
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{platform.urls['evaluation']}/?token={token('secretariat')}&period={period}#/heatmap")
            await page.wait_for_selector('#view[data-ready="heatmap"]', timeout=30_000)
            heads = await page.locator("#heatmap thead th").all_inner_texts()
            assert heads[:2] == ["支部", "机构"], heads
            assert await page.locator("#heatmap thead th.month").count() == 3  # the quarter's months
            rows = {r["org"]: r for r in await page.evaluate(HEAT_ROWS)}
            ours = rows[alliance.branch]
            assert ours["months"] == 3
            assert ours["institution"]["text"] == institution and ours["institution"]["title"] == institution
            assert not ours["institution"]["cut"] and not ours["branch"]["cut"], ours
            if size == "phone":  # the long institution name wraps in its column rather than being cut
                assert ours["institution"]["lines"] >= 2, ours
            assert ours["branch"]["title"] == "第一支部委员会" and ours["branch"]["text"] == "第一支部委员会"
            await page.screenshot(path=str(ARTIFACTS / f"heatmap-{size}-quarter.png"), full_page=True)

            await page.click('#h-span button[data-span="trailing_12"]')
            await page.wait_for_selector('#heatmap[data-months="12"]')
            await page.wait_for_selector('#view[data-ready="heatmap"]')
            assert await page.locator("#heatmap thead th.month").count() == 12
            assert {r["months"] for r in await page.evaluate(HEAT_ROWS)} == {12}
            assert await page.locator('#h-span button[data-span="trailing_12"]').get_attribute("aria-pressed") == "true"
            await page.screenshot(path=str(ARTIFACTS / f"heatmap-{size}-12-months.png"), full_page=True)

            await page.click("#lang")  # the English switch shows English
            await page.wait_for_selector('#view[data-ready="heatmap"]')
            heads = await page.locator("#heatmap thead th").all_inner_texts()
            assert heads[:2] == ["Branch", "Institution"] and heads[-1] == "Last meeting", heads
            assert "Last 12 months" in await page.locator("#h-span").inner_text()
            await page.screenshot(path=str(ARTIFACTS / f"heatmap-{size}-english.png"), full_page=True)
        finally:
            await browser.close()
    assert not errors, errors
