# ruff: noqa: E501  (the JavaScript run in the page reads better unwrapped)
"""The secretariat's dashboard in headless Chromium against the running service and the scripted
quarter: the right numbers on the overview, a drill-down down to an event id, the language switch,
an institution admin kept to their own institution, the work queue and its follow-up record, the
heat map, the printable report and the XLSX exports. Every page is screenshotted under
test-artifacts/ui/ and every chart must have drawn something."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from alliance_shared.contracts.vocabulary import ZH
from openpyxl import load_workbook
from playwright.async_api import Browser, Page

pytestmark = pytest.mark.integration
PERIOD = "2026-Q3"

CHARTS_DRAWN = """() => Object.entries(window.__charts).map(([id, c]) => {
  const series = (c.getOption().series || []).map(s => (s.data || []).length);
  const canvas = c.getDom().querySelector('canvas');
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) inked++;
  return {id, series, inked, width: canvas.width};
})"""


async def open_page(browser: Browser, q: Any, path: str, **token: Any) -> Page:
    context = await browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="zh-CN", accept_downloads=True
    )
    page = await context.new_page()
    await page.goto(f"{q.server.url}{path.replace('?', '?token=' + q.token(**token) + '&', 1)}")
    return page


async def ready(page: Page, name: str, selector: str = "#view") -> None:
    await page.wait_for_selector(f'{selector}[data-ready="{name}"]', timeout=30_000)


async def charts_drawn(page: Page, expected: set[str]) -> None:
    charts = {c["id"]: c for c in await page.evaluate(CHARTS_DRAWN)}
    assert expected <= set(charts), charts
    for chart_id in expected:
        c = charts[chart_id]
        assert any(n > 0 for n in c["series"]), f"{chart_id} has no series data: {c}"
        assert c["inked"] > 2000, f"{chart_id} drew (almost) nothing: {c}"


async def shot(page: Page, artifacts: Path, name: str) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


async def text(page: Page, selector: str) -> str:
    return (await page.locator(selector).first.inner_text()).strip()


async def test_overview_shows_the_scripted_quarters_numbers(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    page = await open_page(browser, quarter, f"/?period={PERIOD}#/overview")
    await ready(page, "overview")
    assert await text(page, "#kpi-institutions .v") == "3"
    assert await text(page, "#standing") == "季度已结束 · 最终"  # the quarter ended before the clock's day
    assert await text(page, "#kpi-branches .v") == "3"  # b1, b2, b4 (b3 is a joint branch)
    assert await text(page, "#kpi-joint_branches .v") == "1"
    for ownership, level in (("state_owned", "L2"), ("private", "L1"), ("emerging", "L3")):
        cell = page.locator(f'#matrix tr[data-ownership="{ownership}"] td[data-level="{level}"]')
        assert (await cell.inner_text()).strip() == "1"
    async with httpx.AsyncClient(base_url=quarter.server.url, headers=quarter.headers()) as api:
        overview = (await api.get("/api/v1/overview", params={"period": PERIOD})).json()
    assert await text(page, "#kpi-completeness .v") == f"{overview['completeness']:.2f}%"
    assert await text(page, "#kpi-timeliness .v") == f"{overview['timeliness']:.2f}%"
    assert await text(page, "#kpi-no_data .v") == str(overview["no_data"])  # 待评, counted apart
    pie = await page.evaluate(
        "() => window.__charts['chart-grades'].getOption().series[0].data.map(d => d.value)"
    )
    # i3 reported nothing in the quarter: 待评, apart from the distribution (and still on the lagging list)
    assert overview["no_data"] == 1
    assert sum(pie) == 2 and pie == [overview["grades"][g] for g in ("excellent", "good", "pass", "fail")]
    trend = await page.evaluate("() => window.__charts['chart-trend'].getOption().xAxis[0].data")
    assert trend[-1] == PERIOD and len(trend) == 6
    await charts_drawn(page, {"chart-grades", "chart-trend", "chart-classes"})
    await shot(page, artifacts, "01-overview-zh")


async def test_a_drill_down_reaches_the_event_behind_an_indicator(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    page = await open_page(browser, quarter, f"/?period={PERIOD}#/rankings")
    await ready(page, "rankings")
    rows = page.locator("#ranking tbody tr")
    assert await rows.count() == 3
    # ranked within peer groups (the ownership class): each row shows its group and its rank there
    assert await text(page, "#rank-head") == "组内排名"
    groups = await rows.evaluate_all("rows => rows.map(r => r.dataset.group)")
    assert len(set(groups)) >= 2 and all(g != "all" for g in groups), groups
    await shot(page, artifacts, "02-rankings")
    await page.select_option("#f-grouping", "all")
    await page.wait_for_function("() => document.querySelector('#ranking')?.dataset.grouping === 'all'")
    assert await text(page, "#rank-head") == "全部机构排名" and "不是组内排名" in await text(page, "#groups")
    await page.select_option("#f-grouping", "ownership")
    await page.wait_for_function("() => document.querySelector('#ranking')?.dataset.grouping === 'ownership'")
    await page.fill("#f-q", "国有")
    await page.press("#f-q", "Enter")
    await page.wait_for_function("() => document.querySelectorAll('#ranking tbody tr').length === 1")
    await ready(page, "rankings")
    await page.locator('#ranking tr[data-id="i1"]').click()
    await ready(page, "institution")
    assert await text(page, "#card-name") == "国有银行甲"
    # the institution's own indicators, aggregated over its branches, each with its evidence
    scopes = await page.locator("#indicators tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.scope + ':' + r.dataset.indicator)"
    )
    assert scopes[:6] == [f"branches:{k}" for k in ("org_life", "learning", "dues", "public_activity", "political", "reporting")]
    assert {"institution:compliance", "institution:coverage"} <= set(scopes)
    assert await page.locator('#indicators tr[data-indicator="org_life"] code.event-id').count() >= 1
    await charts_drawn(page, {"chart-indicators", "chart-trend"})
    await shot(page, artifacts, "03-institution-i1")
    await page.locator('#branches tr[data-id="b1"]').click()
    await ready(page, "branch")
    org_life = page.locator('.breakdown tr[data-indicator="org_life"] code.event-id')
    shown = set(await org_life.all_inner_texts())
    assert quarter.ids["b1-sep-general"] in shown and quarter.ids["b1-jul-committee"] in shown
    await charts_drawn(page, {"chart-indicators"})
    await shot(page, artifacts, "04-branch-b1-evidence")


async def test_the_data_quality_panel_counts_flagged_events_by_kind_and_drills_down_to_them(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    page = await open_page(browser, quarter, f"/?period={PERIOD}#/institution/i1")
    await ready(page, "institution")
    kinds = await page.locator("#data-quality tr.flag-kind").evaluate_all(
        "rows => rows.map(r => [r.dataset.flag, r.querySelector('.label').innerText, r.querySelector('.n').innerText])"
    )
    assert kinds == [
        ["duplicate_meeting", "重复上报的会议", "1"],
        ["minutes_reused", "会议记录重复使用", "1"],
        ["photo_reused", "会议照片重复使用", "1"],
    ], kinds
    await page.locator('#data-quality tr[data-flag="duplicate_meeting"]').click()
    await page.wait_for_function("() => document.querySelector('#flagged-events')?.dataset.flag === 'duplicate_meeting'")
    shown = await page.locator("#flagged-events code.event-id").all_inner_texts()
    assert shown == [quarter.ids["b1-sep-theme-again"]]
    assert "主题党日" in await text(page, "#flagged-events tbody tr")
    await shot(page, artifacts, "05-data-quality-i1")
    await page.locator("#flagged-events a.branch-link").first.click()
    await ready(page, "branch")  # from the flagged event to its branch's evidence
    async with httpx.AsyncClient(base_url=quarter.server.url) as api:
        url = "/api/v1/dashboard/data-quality"
        clean = (await api.get(url, params={"period": PERIOD, "institution_id": "i3"}, headers=quarter.headers())).json()
        assert clean["flagged_events"] == 0 and clean["kinds"] == []
        other = quarter.headers(role="institution_admin", institution_id="i2", subject="adm-2")
        assert (await api.get(url, params={"period": PERIOD, "institution_id": "i1"}, headers=other)).status_code == 403
    # the duplicate counts once: not evidence, and the heat map counts b1's September as three meetings
    async with httpx.AsyncClient(base_url=quarter.server.url, headers=quarter.headers()) as api:
        b1 = (await api.get(f"/api/v1/periods/{PERIOD}/organizations/b1")).json()
    org_life = next(r for r in b1["breakdown"] if r["indicator"] == "org_life")
    assert quarter.ids["b1-sep-theme-again"] not in org_life["evidence"]
    assert org_life["details"]["duplicates"] == [quarter.ids["b1-sep-theme-again"]]


async def test_the_language_switch_turns_the_dashboard_into_english_and_back(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    page = await open_page(browser, quarter, f"/?period={PERIOD}#/overview")
    await ready(page, "overview")
    assert await text(page, 'nav a[data-route="overview"]') == "总览"
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"
    await page.click("#lang")
    await ready(page, "overview")
    assert await text(page, 'nav a[data-route="overview"]') == "Overview"
    assert await text(page, "#kpi-institutions .k") == "Institutions"
    assert (await text(page, "#whoami")).startswith("Secretariat")  # the header's role too
    assert await page.evaluate("document.documentElement.lang") == "en"
    legend = await page.evaluate(
        "() => window.__charts['chart-grades'].getOption().series[0].data.map(d => d.name)"
    )
    assert legend == ["Excellent", "Good", "Pass", "Fail"]
    await charts_drawn(page, {"chart-grades", "chart-trend", "chart-classes"})
    await shot(page, artifacts, "05-overview-en")
    await page.click("#lang")
    await ready(page, "overview")
    assert await text(page, "#lang") == "English"
    assert await text(page, "#kpi-institutions .k") == "机构数"
    assert (await text(page, "#whoami")).startswith("秘书处")


async def test_an_institution_admin_sees_only_their_own_institution(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    who = {"role": "institution_admin", "institution_id": "i2", "subject": "admin-i2"}
    page = await open_page(browser, quarter, f"/?period={PERIOD}#/institution/i1", **who)
    await ready(page, "error")
    assert await page.locator("#error").get_attribute("data-status") == "403"
    assert "无权访问" in await text(page, "#error")
    assert await page.locator("text=国有银行甲").count() == 0
    await shot(page, artifacts, "06-admin-forbidden")
    statuses = await page.evaluate(
        """async () => { const h = {Authorization: 'Bearer ' + sessionStorage.getItem('dashboard.token')};
        const s = async (u) => (await fetch(u, {headers: h})).status;
        return [await s('/api/v1/overview?period=2026-Q3'), await s('/api/v1/dashboard/rankings?period=2026-Q3&institution_id=i1'),
                await s('/api/v1/dashboard/heatmap?period=2026-Q3&institution_id=i1'), await s('/api/v1/dashboard/queue?institution_id=i3'),
                await s('/api/v1/dashboard/exports/institution.xlsx?period=2026-Q3&institution_id=i1'),
                await s('/api/v1/periods/2026-Q3/organizations/b1')]; }"""
    )
    assert statuses == [403, 403, 403, 403, 403, 403]
    assert not await page.locator('nav a[data-route="overview"]').is_visible()
    await page.evaluate("location.hash = '#/rankings'")
    await ready(page, "rankings")
    assert await page.locator("#ranking tbody tr").all_inner_texts() and set(
        await page.locator("#ranking tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")
    ) == {"b3"}
    await page.evaluate("location.hash = '#/institution/i2'")
    await ready(page, "institution")
    assert await text(page, "#card-name") == "民营证券乙"
    await shot(page, artifacts, "07-admin-own-institution")


async def test_the_work_queue_shows_reminders_and_keeps_a_versioned_follow_up(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    page = await open_page(browser, quarter, f"/?period={PERIOD}#/queue")
    await ready(page, "queue")
    row = page.locator('#queue tr[data-org="b4"]')
    assert await row.locator(".badge.lagging").count() == 1
    assert (await row.locator(".days").inner_text()).strip() == "185"  # 2026-04-10 → 2026-10-12
    assert "已送达" in await row.inner_text()
    assert "短信·失败：手机号码格式错误" in await row.inner_text()  # the receipt's reason, in Chinese
    await row.locator(".contacted").check()
    await row.locator(".reason").fill("书记外出培训")
    await row.locator(".promised_on").fill("2026-10-20")
    await row.locator("button.save").click()
    await page.wait_for_function("() => document.querySelector('#queue tr[data-org=\"b4\"] .msg.saved')")
    assert await row.get_attribute("data-version") == "1"
    stale = await page.evaluate(
        """async () => (await fetch('/api/v1/dashboard/queue/b4/follow-up', {method: 'PUT',
          headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + sessionStorage.getItem('dashboard.token')},
          body: JSON.stringify({version: 0, contacted: false})})).status"""
    )
    assert stale == 409
    # another officer saves the reason only: the promised date stays, and the history says who changed what
    async with httpx.AsyncClient(base_url=quarter.server.url, headers=quarter.headers(subject="sec-2")) as client:
        second = await client.put("/api/v1/dashboard/queue/b4/follow-up", json={"version": 1, "reason": "书记已返岗"})
    assert second.status_code == 200, second.text
    record = second.json()
    assert record["version"] == 2 and record["promised_on"] == "2026-10-20" and record["contacted"] is True
    assert [(h["version"], h["by"], sorted(h["changes"])) for h in record["history"]] == [
        (2, "sec-2", ["reason"]), (1, "sec-1", ["contacted", "promised_on", "reason"])]
    assert record["history"][0]["changes"]["reason"] == {"from": "书记外出培训", "to": "书记已返岗"}
    await page.reload()
    await ready(page, "queue")
    row = page.locator('#queue tr[data-org="b4"]')
    assert await row.locator(".reason").input_value() == "书记已返岗"
    assert await row.locator(".promised_on").input_value() == "2026-10-20"
    await row.locator("details.history summary").click()
    entries = await row.locator("details.history li").all_inner_texts()
    assert len(entries) == 2 and "sec-2" in entries[0] and "原因 书记外出培训 → 书记已返岗" in entries[0], entries
    assert "承诺日期 — → 2026-10-20" in entries[1], entries
    # a save from the page names only what was changed on it
    await row.locator(".promised_on").fill("2026-10-25")
    await row.locator("button.save").click()
    await page.wait_for_function("() => document.querySelector('#queue tr[data-org=\"b4\"]').dataset.version === '3'")
    async with httpx.AsyncClient(base_url=quarter.server.url, headers=quarter.headers()) as client:
        items = (await client.get("/api/v1/dashboard/queue")).json()["items"]
    latest = next(i for i in items if i["organization_id"] == "b4")["follow_up"]["history"][0]
    assert sorted(latest["changes"]) == ["promised_on"] and latest["by"] == "sec-1"
    await shot(page, artifacts, "08-work-queue")


HEAT_GRID = """() => Object.fromEntries([...document.querySelectorAll('#heatmap tbody tr[data-org]')].map(tr => [tr.dataset.org, {
  institution: tr.querySelector('td.heat-inst').innerText.trim(),
  counts: Object.fromEntries([...tr.querySelectorAll('td.heat[data-count]')].filter(td => td.dataset.count !== '0').map(td => [td.dataset.month, Number(td.dataset.count)])),
}]))"""


async def test_the_heat_map_counts_meetings_per_branch_per_month(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    page = await open_page(browser, quarter, f"/?period={PERIOD}#/heatmap")
    await ready(page, "heatmap")
    months = await page.locator("#heatmap thead th.month").evaluate_all("ths => ths.map(th => th.dataset.month)")
    assert months == ["2026-07", "2026-08", "2026-09"]  # the chosen quarter's months
    assert await page.locator("#heatmap thead th.month").all_inner_texts() == ["2026年7月", "2026年8月", "2026年9月"]
    grid = await page.evaluate(HEAT_GRID)
    assert list(grid) == ["b1", "b2", "b3", "b4"]
    assert {b: r["institution"] for b, r in grid.items()} == {"b1": "国有银行甲", "b2": "国有银行甲", "b3": "民营证券乙", "b4": "新兴金融丙"}
    in_quarter = {b: {m: c for m, c in ms.items() if m in months} for b, ms in quarter.heat.items()}
    assert {b: r["counts"] for b, r in grid.items()} == in_quarter
    await shot(page, artifacts, "09-heatmap")
    await page.click('#h-span button[data-span="trailing_12"]')
    await page.wait_for_selector('#heatmap[data-months="12"]')
    await ready(page, "heatmap")
    months = await page.locator("#heatmap thead th.month").evaluate_all("ths => ths.map(th => th.dataset.month)")
    assert months[0] == "2025-10" and months[-1] == "2026-09"
    assert {b: r["counts"] for b, r in (await page.evaluate(HEAT_GRID)).items()} == quarter.heat  # b4's April too
    await shot(page, artifacts, "09-heatmap-12-months")


async def test_the_printable_report_and_every_export_carry_chinese_headers(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    page = await open_page(browser, quarter, f"/report?period={PERIOD}")
    await ready(page, "report")
    assert PERIOD in await text(page, "h1")
    assert await page.locator(".peer h2").count() >= 4  # each ownership class's own top and bottom ten
    assert "组内前十名" in await text(page, ".peer h2")
    await charts_drawn(page, {"chart-grades", "chart-trend", "chart-classes"})
    await page.emulate_media(media="print")
    await shot(page, artifacts, "10-report-print")
    await page.pdf(path=str(artifacts / "10-report.pdf"), format="A4", print_background=True)

    page = await open_page(browser, quarter, f"/?period={PERIOD}#/rankings")
    await ready(page, "rankings")
    async with page.expect_download() as download:
        await page.locator("button.export").click()
    saved = await (await download.value).path()
    body = await asyncio.to_thread(Path(saved).read_bytes)
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:4] == ["组内排名 Rank in peer group", "同类组 Peer group", "组内数量 Group size", "编号 ID"]
    assert sheet.max_row == 4
    async with httpx.AsyncClient(base_url=quarter.server.url, headers=quarter.headers()) as api:
        for table, first in [("overview", "所有制 Ownership"), ("trend", "期间 Period"), ("queue", "支部编号 Branch ID"),
                             ("heatmap", "支部编号 Branch ID"), ("institution", "对象类型 Object")]:  # fmt: skip
            r = await api.get(
                f"/api/v1/dashboard/exports/{table}.xlsx",
                params={"period": PERIOD, "institution_id": "i1" if table == "institution" else None},
            )
            assert r.status_code == 200, r.text
            ws = load_workbook(io.BytesIO(r.content)).active
            assert ws is not None and ws["A1"].value == first and ws.max_row >= 2


# what a person reads on a page: its text, tooltips and placeholders, but not the ids it shows as
# ids (编号 cells, event ids) nor the chart canvases (their labels are checked from the options)
READ_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('code, .id, script, style, [hidden], #login').forEach(e => e.remove());
  const parts = [body.innerText];
  body.querySelectorAll('[title], [placeholder]').forEach(e => parts.push(e.title || '', e.placeholder || ''));
  Object.values(window.__charts || {}).forEach(c => {
    const o = c.getOption();
    (o.series || []).forEach(s => { parts.push(s.name || ''); (s.data || []).forEach(d => parts.push((d && d.name) || '')); });
    [...(o.xAxis || []), ...(o.yAxis || [])].forEach(a => (a.data || []).forEach(v => parts.push(String(v))));
  });
  return parts.join('\\n');
}"""
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
CODE_WORDS = {code for code in ZH if re.fullmatch(r"[a-z]+", code)}  # events, sms, secretariat, dues, …


def codes_in(read: str) -> list[str]:
    return sorted(set(SNAKE.findall(read)) | {w for w in re.findall(r"\b[a-z]+\b", read) if w in CODE_WORDS})


@pytest.mark.parametrize(
    ("route", "name"),
    [
        ("#/overview", "overview"),
        ("#/rankings", "rankings"),
        ("#/institution/i1", "institution"),
        ("#/branch/b1", "branch"),
        ("#/branch/b4", "branch"),
        ("#/queue", "queue"),
        ("#/heatmap", "heatmap"),
    ],
)
async def test_no_code_reaches_a_chinese_page(browser: Browser, quarter: Any, artifacts: Path, route: str, name: str) -> None:
    page = await open_page(browser, quarter, f"/?period={PERIOD}{route}")
    await ready(page, name)
    if name == "rankings":  # the branch level too
        await page.select_option("#f-level", "branch")
        await page.wait_for_function("() => document.querySelector('#ranking tr[data-id=\"b1\"]')")
        await ready(page, "rankings")
    read = await page.evaluate(READ_TEXT)
    assert "暂无数据" not in read or name == "queue", read
    assert codes_in(read) == [], f"codes on {route}: {codes_in(read)}"
    await shot(page, artifacts, f"11-zh-{route.strip('#/').replace('/', '-')}")


async def test_no_code_reaches_the_printable_report(browser: Browser, quarter: Any) -> None:
    page = await open_page(browser, quarter, f"/report?period={PERIOD}")
    await ready(page, "report")
    assert codes_in(await page.evaluate(READ_TEXT)) == []


async def test_the_header_names_the_role_and_the_queue_names_channels_and_missing_meetings_in_chinese(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    page = await open_page(browser, quarter, f"/?period={PERIOD}#/queue")
    await ready(page, "queue")
    assert await text(page, "#whoami") == "秘书处"
    assert "短信·已送达" in await page.locator('#queue tr[data-org="b4"]').inner_text()
    assert await page.locator('#queue tr[data-org="b4"] input.promised_on').get_attribute("placeholder") == "年-月-日"
    page = await open_page(browser, quarter, f"/?period={PERIOD}#/institution/i1")
    await ready(page, "institution")
    missing = await page.locator("#branches td.missing").all_inner_texts()
    assert any("支部委员会" in m for m in missing), missing
    page = await open_page(browser, quarter, f"/?period={PERIOD}#/branch/b1")
    await ready(page, "branch")
    requirement = await text(page, '.breakdown tr[data-indicator="org_life"] td:nth-child(3)')
    assert "支部委员会每月≥1" in requirement and "党小组会" not in requirement and " / " not in requirement
    await page.click("#lang")
    await ready(page, "branch")
    assert "branch committee meeting monthly" in await text(page, '.breakdown tr[data-indicator="org_life"] td:nth-child(3)')


async def test_an_event_id_in_a_drill_down_opens_the_event_with_its_provenance(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    page = await open_page(browser, quarter, f"/?period={PERIOD}#/branch/b1")
    await ready(page, "branch")
    wanted = quarter.ids["b1-jul-committee"]
    await page.locator(f'.breakdown tr[data-indicator="org_life"] a.event-link:has-text("{wanted}")').click()
    await ready(page, "event")
    shown = await text(page, "#event")
    for expected in ("支部委员会", "三会一课.xlsx", "upload-202607", "批量接口", "应到人数"):
        assert expected in shown, (expected, shown)
    assert codes_in(await page.evaluate(READ_TEXT)) == []
    await shot(page, artifacts, "12-evidence-event")
    async with httpx.AsyncClient(base_url=quarter.server.url) as client:
        own = await client.get(f"/api/v1/events/{wanted}", headers=quarter.headers(role="institution_admin", institution_id="i1"))
        other = await client.get(f"/api/v1/events/{wanted}", headers=quarter.headers(role="institution_admin", institution_id="i2"))
    assert own.status_code == 200 and own.json()["provenance"] == {"batch_id": "upload-202607", "file_name": "三会一课.xlsx", "row": 2}
    assert other.status_code == 404  # another institution's event is not said to exist
