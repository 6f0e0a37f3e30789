"""The L1 web form in a real browser (Debian's chromium driven by Playwright) at a phone's viewport
(390×844) and at a desktop's: the branch secretary signs in (the development sign-in), picks the
branch and the meeting kind, ticks two attendees by name, picks the day on the Chinese calendar,
submits and sees the meeting listed as reported this quarter. No code reaches the Chinese page.
Screenshots are kept as test-artifacts/form-*.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from alliance_shared.contracts.vocabulary import ZH
from e2e_api import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"  # `make browser` installs it; Playwright downloads no browser here
# what a person reads: the text, tooltips and placeholders, not ids shown as ids, scripts or hidden parts
READ_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('code, .id, script, style, [hidden]').forEach(e => e.remove());
  const parts = [body.innerText];
  body.querySelectorAll('[title], [placeholder], [aria-label]').forEach(e =>
    parts.push(e.title || '', e.placeholder || '', e.getAttribute('aria-label') || ''));
  return parts.join('\\n');
}"""
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
CODE_WORDS = {code for code in ZH if re.fullmatch(r"[a-z]+", code)}


def codes_in(read: str) -> list[str]:
    return sorted(set(SNAKE.findall(read)) | {w for w in re.findall(r"\b[a-z]+\b", read) if w in CODE_WORDS})


@pytest.mark.parametrize(
    ("device", "viewport", "kind", "kind_zh", "hour", "names"),
    [
        ("phone", {"width": 390, "height": 844}, "branch_committee_meeting", "支部委员会", "07", ["党员0", "党员1"]),
        ("desktop", {"width": 1440, "height": 1000}, "party_lesson", "党课", "08", ["党员1", "党员2"]),
    ],
)
async def test_a_branch_secretary_reports_a_meeting_from_the_form(
    platform: Platform, alliance: Any, device: str, viewport: dict[str, int], kind: str, kind_zh: str, hour: str,
    names: list[str],
) -> None:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport=viewport, locale="zh-CN", is_mobile=device == "phone",
                                          has_touch=device == "phone")
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{platform.urls['activity']}/form")
            # signing in: the development sign-in lists the institutions and their branches by name
            await page.wait_for_selector(f'#si-institution option[value="{alliance.institution_id}"]', state="attached")
            await page.select_option("#si-institution", alliance.institution_id)
            await page.select_option("#si-branch", alliance.branch)
            assert "第一支部委员会" in await page.inner_text("#si-branch")
            await page.screenshot(path=str(ARTIFACTS / f"form-{device}-1-sign-in.png"), full_page=True)
            await page.click("#si-go")
            await page.wait_for_selector("#report:not([hidden]) #roll .member")
            assert "支部书记" in await page.inner_text("#whoami")

            # the branch and the kind from lists; submitting without a day names the field
            await page.select_option("#f-branch", alliance.branch)
            await page.wait_for_load_state("networkidle")  # the branch's sheet is read again
            await page.select_option("#f-kind", kind)
            await page.click("#submit")
            assert await page.inner_text('.field[data-field="held_at"] .error') == "请选择召开日期"
            assert "召开日期和时间：请选择召开日期" in await page.inner_text("#result")

            # two attendees ticked by name, the day on the Chinese calendar
            for name in names:
                await page.locator("#roll .member", has_text=name).click()
            assert await page.inner_text("#picked") == "已选 2 人"
            await page.click("#f-day")
            await page.wait_for_selector("#calendar:not([hidden])")
            calendar = await page.inner_text("#calendar")
            assert re.search(r"\d{4}年\d{1,2}月", calendar) and "一" in calendar and "mm" not in calendar.lower()
            await page.screenshot(path=str(ARTIFACTS / f"form-{device}-2-calendar.png"), full_page=True)
            today = await page.evaluate("() => state.today")
            await page.click(f'#calendar .grid button[data-day="{today}"]')
            y, m, d = (int(x) for x in today.split("-"))
            assert await page.inner_text("#f-day") == f"{y}年{m}月{d}日"
            await page.select_option("#f-hour", hour)

            await page.click("#submit")
            await page.wait_for_selector("#result.ok")
            assert "已提交" in await page.inner_text("#result")
            # this meeting among the quarter's (other tests report meetings of the same kind)
            reported = page.locator("#reported li", has_text=kind_zh).filter(has_text=f"{today} {hour}:00")
            await reported.first.wait_for()
            assert "2人参会" in await reported.first.inner_text()
            owed = await page.inner_text("#owed")
            assert f"{kind_zh}" in owed and "已报" in owed
            await page.screenshot(path=str(ARTIFACTS / f"form-{device}-3-reported.png"), full_page=True)

            read = await page.evaluate(READ_TEXT)
            assert "branch_committee_meeting" not in read and codes_in(read) == [], codes_in(read)
            assert "mm/dd/yyyy" not in read.lower()
            width = await page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"the page scrolls sideways at {viewport['width']} px: {width}"
        finally:
            await browser.close()
    assert not errors, errors
