"""A closed quarter's unlock exception on the branch's drill-down in headless Chromium: the
secretariat grants one for 国有银行甲第1支部 (who asked, why, until when, in Beijing time), sees it in
force, revokes it and sees it revoked; an institution's admin reads it without the buttons.
Screenshotted under test-artifacts/ui/ at a desktop's and a phone's size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser

pytestmark = pytest.mark.integration
PERIOD = "2026-Q3"
SIZES = {"desktop": {"width": 1400, "height": 1000}, "phone": {"width": 390, "height": 844}}


async def test_the_secretariat_grants_and_revokes_an_unlock_exception_on_the_branchs_drill_down(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    async with httpx.AsyncClient(base_url=quarter.server.url, headers=quarter.headers()) as api:
        closed = await api.post(f"/api/v1/periods/{PERIOD}/close")
        assert closed.status_code in (200, 409), closed.text  # 409: another module's run closed it
    errors: list[str] = []
    context = await browser.new_context(viewport=SIZES["desktop"], locale="zh-CN")
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{quarter.server.url}/?token={quarter.token()}&period={PERIOD}#/branch/b1")
    await page.wait_for_selector("#unlocks #unlock-form", timeout=30_000)
    assert "本期没有解锁例外" in await page.inner_text("#unlocks")
    await page.fill('#unlock-form input[name="requested_by"]', "支部书记 张三")
    await page.fill('#unlock-form input[name="reason"]', "系统故障，九月主题党日漏报")
    await page.fill("#unlock-form input.until-day", "2026-10-20")  # 年-月-日 and 时:分, Beijing time
    assert await page.input_value('#unlock-form input[name="until_time"]') == "18:00"
    await page.click('#unlock-form button[type="submit"]')
    row = page.locator('#unlock-table tr[data-status="active"]')
    await row.wait_for(timeout=30_000)
    text = await row.inner_text()
    for expected in ("支部\t支部书记 张三", "系统故障，九月主题党日漏报", "2026/10/20 18:00", "有效", "撤销"):
        assert expected in text, (expected, text)
    await page.locator("#unlocks").scroll_into_view_if_needed()
    await page.screenshot(path=str(artifacts / "14-unlock-granted-desktop.png"), full_page=True)

    admin = await (await browser.new_context(viewport=SIZES["phone"], locale="zh-CN", is_mobile=True)).new_page()
    admin.on("pageerror", lambda exc: errors.append(str(exc)))
    await admin.goto(f"{quarter.server.url}/?token={quarter.token('institution_admin', 'i1', 'admin-i1')}"
                     f"&period={PERIOD}#/branch/b1")
    await admin.wait_for_selector('#unlock-table tr[data-status="active"]', timeout=30_000)
    assert await admin.locator("#unlock-form, #unlock-table button.revoke").count() == 0  # reads, does not grant
    await admin.locator("#unlocks").scroll_into_view_if_needed()
    await admin.screenshot(path=str(artifacts / "14-unlock-phone-institution-admin.png"), full_page=True)
    width = await admin.evaluate("() => document.querySelector('#unlocks').getBoundingClientRect().right")
    assert width <= SIZES["phone"]["width"] + 1, width

    await page.click("#unlock-table button.revoke")
    await page.locator('#unlock-table tr[data-status="revoked"]').wait_for(timeout=30_000)
    assert "已撤销" in await page.inner_text("#unlock-table")
    await page.locator("#unlocks").scroll_into_view_if_needed()
    await page.screenshot(path=str(artifacts / "14-unlock-revoked-desktop.png"), full_page=True)
    await context.close()
    assert not errors, errors


async def test_a_report_filed_on_the_branchs_behalf_shows_on_its_drill_down_and_in_the_evidence(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    from alliance_shared.contracts import activity as act
    from alliance_shared.contracts.catalog import envelope
    from alliance_shared.kafka.producer import EventPublisher

    from .conftest import at

    meeting = act.MeetingHeld(organization_id="b2", meeting_kind="theme_party_day", held_at=at(2026, 9, 22),
                              attendee_ids=["m3"], expected_count=1, topic="代办上报")
    event = envelope(meeting, source="/tests/ui", institutionid="i1", reportinglevel="L2", channel="form",
                     receivedat=at(2026, 9, 22), filedby="admin-i1", onbehalfof="b2")
    settings = quarter.settings
    publisher = EventPublisher(settings.kafka_bootstrap_servers, topic_prefix=settings.kafka_topic_prefix)
    await publisher.start()
    try:
        await publisher.publish(meeting.kafka_topic, event, meeting.ordering_key())
    finally:
        await publisher.stop()
    errors: list[str] = []
    for size, viewport in SIZES.items():
        context = await browser.new_context(viewport=viewport, locale="zh-CN", is_mobile=size == "phone")
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for _ in range(60):  # the consumer stores it within a few seconds
            await page.goto(f"{quarter.server.url}/?token={quarter.token()}&period={PERIOD}#/branch/b2")
            await page.wait_for_selector('#view[data-ready="branch"]', timeout=30_000)
            if await page.locator(f'#on-behalf tr[data-event="{event.id}"]').count():
                break
            await page.wait_for_timeout(500)
        row = await page.locator(f'#on-behalf tr[data-event="{event.id}"]').inner_text()
        assert "主题党日" in row and "2026-09-22" in row and "admin-i1" in row and "待审核" in row, row
        await page.locator("#on-behalf").scroll_into_view_if_needed()
        await page.screenshot(path=str(artifacts / f"15-on-behalf-{size}.png"), full_page=True)
        await page.click(f'#on-behalf tr[data-event="{event.id}"] a.event-link')
        await page.wait_for_selector("#event", timeout=30_000)
        text = await page.inner_text("#event")
        assert "上报人" in text and "admin-i1" in text and "是（由上级党组织或秘书处代本支部上报）" in text, text
        await page.screenshot(path=str(artifacts / f"15-evidence-on-behalf-{size}.png"), full_page=True)
        await context.close()
    assert not errors, errors
