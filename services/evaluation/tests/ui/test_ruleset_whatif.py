"""The ruleset page (/rulesets) in headless Chromium: a draft that fails its checks lists every field
and reason (Chinese first); a good draft is uploaded, replayed over 2026-Q3 for all institutions, its
diff drawn (the rank-change plot, the indicators chart) and tabled; its proposer is refused as its
approver, a second secretariat user approves it. Screenshotted under test-artifacts/ui/."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from alliance_evaluation.domain.ruleset import RULESET_DIR
from playwright.async_api import Browser

pytestmark = pytest.mark.integration
PERIOD = "2026-Q3"
YAML = "application/yaml"


def draft_yaml(version: str, **weights: int) -> bytes:
    raw: dict[str, Any] = copy.deepcopy(yaml.safe_load((RULESET_DIR / "2026.1.yaml").read_text(encoding="utf-8")))
    raw |= {"version": version, "name": "综合评价细则 2027.1（征求意见稿）/ Rules 2027.1 (draft)"}
    for ownership in ("state_owned", "private", "emerging"):  # organisational life weighs most everywhere
        raw["branch_weights"][ownership] = {"org_life": 80, "learning": 5, "dues": 5, "public_activity": 0,
                                            "political": 0, "reporting": 10, **weights}  # fmt: skip
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False).encode()


async def test_a_draft_is_checked_replayed_diffed_and_published_by_a_second_user(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    errors: list[str] = []
    context = await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{quarter.server.url}/rulesets?token={quarter.token(subject='sec-1')}")
    await page.wait_for_selector("#drafts tbody tr", timeout=30_000)

    bad = draft_yaml("2027.1", org_life=-5).replace(b'frequency_share: 7/10', b'frequency_share: 9/10')
    await page.set_input_files("#draft-file", files=[{"name": "bad.yaml", "mimeType": YAML, "buffer": bad}])
    await page.click("#upload-form button[type=submit]")
    await page.wait_for_selector('#problems[data-state="invalid"]', timeout=30_000)
    problems = await page.inner_text("#problems")
    assert "branch_weights.state_owned.org_life\t不能为负数" in problems, problems
    assert "org_life\t频次与出席占比之和须为 1" in problems, problems
    await page.screenshot(path=str(artifacts / "16-ruleset-draft-refused.png"), full_page=True)

    good = draft_yaml("2027.1")
    await page.set_input_files("#draft-file", files=[{"name": "2027.1.yaml", "mimeType": YAML, "buffer": good}])
    await page.click("#upload-form button[type=submit]")
    await page.wait_for_selector("#draft:not([hidden])", timeout=30_000)
    assert "2027.1" in await page.inner_text("#draft-title")
    for box in await page.locator("#whatif-periods input").all():  # replay 2026-Q3 only
        if await box.get_attribute("value") == PERIOD:
            await box.check()
        else:
            await box.uncheck()
    await page.click("#run-whatif")
    await page.wait_for_selector('#view[data-ready="diff"]', timeout=60_000)
    assert "完成" in await page.inner_text("#progress")
    summary = await page.inner_text("#summary")
    assert "得分变化" in summary and "共 3 个" in summary, summary
    rows = await page.inner_text("#rows tbody")
    assert "国有银行甲" in rows and "组织生活" in rows, rows
    points = await page.evaluate(
        "() => window.__charts['rank-chart'].getOption().series.slice(1).reduce((n, s) => n + s.data.length, 0)"
    )
    assert points >= 2  # every ranked institution is a point
    await page.click('#level-switch button[data-level="branch"]')
    await page.wait_for_function("() => document.querySelector('#rows tbody').innerText.includes('支部')")
    await page.click('#level-switch button[data-level="institution"]')
    await page.wait_for_function("() => document.querySelector('#rows tbody').innerText.includes('国有银行甲')")
    await page.locator("#diff").scroll_into_view_if_needed()
    await page.screenshot(path=str(artifacts / "16-ruleset-whatif-diff.png"), full_page=True)

    await page.fill("#publish-note", "组织生活权重提高")
    await page.click("#propose")
    await page.wait_for_selector('#publish-msg[data-state="proposed"]', timeout=30_000)
    assert "待另一位秘书处人员批准" in await page.inner_text("#publish-state")
    await page.click("#approve")  # its proposer: refused
    await page.wait_for_selector('#publish-msg[data-state="refused"]', timeout=30_000)
    assert "须由起草人和提请人以外的另一位秘书处人员批准" in await page.inner_text("#publish-msg")
    await page.locator("#publish").scroll_into_view_if_needed()
    await page.screenshot(path=str(artifacts / "16-ruleset-proposer-refused.png"), full_page=False)
    draft_id = await page.get_attribute("#drafts tr.click", "data-id")

    second = await (await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")).new_page()
    second.on("pageerror", lambda exc: errors.append(str(exc)))
    await second.goto(f"{quarter.server.url}/rulesets?token={quarter.token(subject='sec-2')}&draft={draft_id}")
    await second.wait_for_selector("#decide-form:not([hidden])", timeout=30_000)
    await second.fill("#decision-comment", "同意")
    await second.click("#approve")
    await second.wait_for_selector('#publish-msg[data-state="published"]', timeout=30_000)
    assert "已由 sec-2" in await second.inner_text("#publish-state")
    assert "已发布" in await second.inner_text("#drafts")
    await second.locator("#publish").scroll_into_view_if_needed()
    await second.screenshot(path=str(artifacts / "16-ruleset-published.png"), full_page=False)
    assert errors == []


async def test_the_overview_compares_each_reporting_level_against_its_own_expectation(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    errors: list[str] = []
    page = await (await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{quarter.server.url}/?token={quarter.token()}&period={PERIOD}#/overview")
    await page.wait_for_selector('#view[data-ready="overview"] #maturity', timeout=30_000)
    note = await page.inner_text("#maturity-note")
    assert note.startswith("各机构按同一义务日历计算报送完整率与及时率") and "L1 10 天" in note, note
    rows = {r.split("\t")[0]: r.split("\t") for r in (await page.inner_text("#by-level tbody")).splitlines()}
    # i2 reports by spreadsheet (L1, 10 days' grace, 80% / 60% expected), i3 streams (L3, 1 day, 95% / 95%)
    assert rows["L1"][1:3] == ["1", "10"] and rows["L1"][4] == "80.00%" and rows["L1"][6] == "60.00%", rows
    assert rows["L3"][1:3] == ["1", "1"] and rows["L3"][4] == "95.00%", rows
    bars = await page.evaluate("() => window.__charts['chart-levels'].getOption().xAxis[0].data")
    assert bars == ["L1", "L2", "L3"]
    await page.locator("#maturity").scroll_into_view_if_needed()
    await page.screenshot(path=str(artifacts / "16-overview-by-reporting-level.png"), full_page=False)

    await page.goto(f"{quarter.server.url}/?token={quarter.token()}&period={PERIOD}#/institution/i2")
    await page.wait_for_selector("#against-level", timeout=30_000)
    line = await page.inner_text("#against-level")
    assert line.startswith("L1 本级期望 80.00% / 60.00%") and ("达标" in line or "未达标" in line), line
    await page.screenshot(path=str(artifacts / "16-institution-against-its-level.png"), full_page=False)
    assert errors == []
