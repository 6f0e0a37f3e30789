"""`make demo` at a small scale against the end-to-end platform — institutions, trees, members, a
quarter through L1, L2 and L3, the lagging scan — and then the secretariat's dashboard in a real
browser (Debian's chromium driven by Playwright): the overview counts what the demo loaded, the
charts are drawn, and the work queue shows the lagging branches with the reminders sent to them.
Screenshots: test-artifacts/demo-overview.png, demo-rankings.png, demo-institution.png and
demo-work-queue.png; the demo's own output: test-artifacts/demo.log."""

from __future__ import annotations

import asyncio
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alliance_shared.testing import wait_for
from e2e_api import Platform, current_period, expect, token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
INSTITUTIONS, MEMBERS = 12, 300


def demo_alliance() -> Any:
    """The alliance `run_demo` loads (the generator is seeded)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from alliance_shared.clock import SHANGHAI
    from demo_alliance import build_alliance

    return build_alliance(institutions=INSTITUTIONS, members=MEMBERS, seed=12, today=datetime.now(SHANGHAI).date())


async def run_demo(platform: Platform) -> str:
    urls = [arg for name, url in platform.urls.items() for arg in (f"--{name}", url)]
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "scripts" / "demo.py"), "--institutions", str(INSTITUTIONS),
        "--members", str(MEMBERS), "--wait-s", "150", "--seed", "12", *urls,
        "--kafka", platform.infra.kafka_bootstrap_servers, "--topic-prefix", platform.topic_prefix,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=170)
    text = output.decode()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "demo.log").write_text(text)
    assert process.returncode == 0, text[-3000:]
    return text


def quarter_bounds(period: str) -> tuple[date, date]:
    year, q = int(period[:4]), int(period[-1])
    start = date(year, 3 * q - 2, 1)
    end = date(year + q // 4, 3 * q % 12 + 1, 1) - timedelta(days=1)
    return start, end


def previous_quarter(period: str) -> str:
    year, q = int(period[:4]), int(period[-1])
    return f"{year - 1}-Q4" if q == 1 else f"{year}-Q{q - 1}"


async def no_institution_before_it_joined(evaluation: Any, uscc_of: dict[str, str], alliance: Any) -> None:
    """Every period the dashboard offers, and the quarter before the current one (the laggards' and
    late reporters' meetings fall in it): no institution is scored there before the day it joined."""
    joined = {i.uscc: i.joined_at for i in alliance.institutions}
    current = current_period()
    assert any(d is not None and d > quarter_bounds(current)[0] for d in joined.values()), joined
    offered = expect(await evaluation.get("/api/v1/dashboard/periods"))
    periods = {*offered["periods"], previous_quarter(current)}
    for period in sorted(periods):
        end = quarter_bounds(period)[1]
        scores = expect(await evaluation.get(f"/api/v1/periods/{period}/scores", params={"page_size": 500}))
        early = [
            (item["id"], joined[uscc_of[item["id"]]])
            for item in scores["items"]
            if (day := joined.get(uscc_of.get(item["id"], ""))) is not None and day > end
        ]
        assert not early, (period, early)


async def test_the_demo_loads_a_quarter_that_the_dashboard_shows_with_its_reminders(platform: Platform) -> None:
    from playwright.async_api import async_playwright

    secretariat = token("secretariat")
    period = current_period()
    async with platform.client("registry", token=secretariat) as registry:
        before = expect(await registry.get("/api/v1/institutions", params={"page_size": 1}))["total"]
        output = await run_demo(platform)
        assert "示例联盟已加载 / the demo alliance is loaded" in output
        registered = expect(await registry.get("/api/v1/institutions", params={"page_size": 1}))["total"]
        listing = expect(await registry.get("/api/v1/institutions", params={"page_size": 500}))
        registry_ids = {i["id"]: i["uscc"] for i in listing["items"]}
    assert registered == before + INSTITUTIONS

    async with platform.client("evaluation", token=secretariat) as evaluation:
        overview = expect(await evaluation.get("/api/v1/overview", params={"period": period}))
        assert overview["institutions"] == registered, overview
        # 待评 (no data) is counted apart from the grade distribution
        judged = sum(overview["grades"].values())
        assert judged + overview["no_data"] == registered and overview["completeness"] > 0, overview
        # the demo's plan shows in the distribution: its exemplary institutions 优秀, its newcomers 待评
        assert overview["grades"].get("excellent", 0) >= 1 and overview["no_data"] >= 1, overview
        await no_institution_before_it_joined(evaluation, registry_ids, demo_alliance())
        # coverage counts each branch and member once, pocket members included (the demo marks some)
        alliance = demo_alliance()
        in_branches = [m for o in alliance.organizations if o.holds_meetings for m in o.members]
        pocket = sum(1 for m in in_branches if m.pocket and m.status in ("full", "probationary"))
        joint = sum(1 for o in alliance.organizations if o.kind == "joint_branch")
        coverage = overview["coverage"]
        assert pocket > 0 and coverage["pocket_members"] >= pocket, (pocket, coverage)
        assert coverage["joint_branches"] >= joint and coverage["members"] >= len(in_branches) - len(
            [m for m in in_branches if m.status not in ("full", "probationary")]
        ), coverage

        async def reminded() -> list[dict[str, Any]] | None:  # the deliveries came back into the unified view
            queue = expect(await evaluation.get("/api/v1/dashboard/queue", params={"page_size": 50}))
            items = [i for i in queue["items"] if i["reminders"]]
            return items or None

        queue = await wait_for(reminded, timeout_s=60, interval_s=1, what="reminders in the work queue")
    assert all(i["status"] in ("lagging", "at_risk") for i in queue)

    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{platform.urls['evaluation']}/?token={secretariat}&period={period}#/overview")
            await page.wait_for_selector('#view[data-ready="overview"]', timeout=30_000)
            institutions = (await page.inner_text("#kpi-institutions .v")).strip()
            pie = await page.evaluate(
                "() => window.__charts['chart-grades'].getOption().series[0].data.map(d => d.value)")
            classes = await page.evaluate(
                "() => window.__charts['chart-classes'].getOption().series.map(s => s.data.length)")
            await page.wait_for_timeout(1500)  # charts animate in
            await page.screenshot(path=str(ARTIFACTS / "demo-overview.png"), full_page=True)

            # rankings within peer groups, and an institution's indicators with their evidence
            await page.evaluate("location.hash = '#/rankings'")
            await page.wait_for_selector('#view[data-ready="rankings"]', timeout=30_000)
            rank_head = (await page.inner_text("#rank-head")).strip()
            groups = set(await page.locator("#ranking tbody tr").evaluate_all("rows => rows.map(r => r.dataset.group)"))
            await page.screenshot(path=str(ARTIFACTS / "demo-rankings.png"), full_page=True)
            await page.locator("#ranking tbody tr.click").first.click()
            await page.wait_for_selector('#view[data-ready="institution"]', timeout=30_000)
            indicators = await page.locator("#indicators tbody tr").count()
            await page.wait_for_timeout(1000)
            await page.screenshot(path=str(ARTIFACTS / "demo-institution.png"), full_page=True)

            await page.evaluate("location.hash = '#/queue'")
            await page.wait_for_selector('#view[data-ready="queue"]', timeout=30_000)
            badges = await page.locator("#queue td .badge.sent, #queue td .badge.delivered, "
                                        "#queue td .badge.deferred, #queue td .badge.queued").count()
            lagging_rows = await page.locator("#queue tr .badge.lagging").count()
            await page.screenshot(path=str(ARTIFACTS / "demo-work-queue.png"), full_page=True)
        finally:
            await browser.close()
    assert not errors, errors
    assert institutions == str(registered)
    assert sum(pie) == judged and any(classes), (pie, classes)
    assert lagging_rows >= 1 and badges >= 1, (lagging_rows, badges)
    assert rank_head == "组内排名" and len(groups) >= 2 and indicators >= 9, (rank_head, groups, indicators)
