"""The 待办队列 and 审计日志 pages in headless Chromium: the secretariat approves an evaluator's
adjustment and resolves an institution's appeal on the queues page, an institution's admin reads its
own appeal and exemption there without the buttons (a phone's width), and the secretariat finds
each of those actions in the audit trail — who, when, what and from where (the address behind the
trusted proxy) — filters it, switches it to English and downloads it. Screenshotted under
test-artifacts/ui/ at 1280 and 390 pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page

pytestmark = pytest.mark.integration
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PROXIED = "203.0.113.9"  # the client as the trusted proxy (127.0.0.1) names it in X-Forwarded-For


async def _page(browser: Browser, url: str, errors: list[str], **kw: Any) -> Page:
    context = await browser.new_context(locale="zh-CN", **kw)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(url)
    return page


async def _fits(page: Page, width: int) -> None:
    scroll = await page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width + 1, scroll  # nothing wider than the phone


async def test_the_secretariat_acts_on_the_queues_and_reads_every_action_in_the_audit_trail(
    browser: Browser, quarter: Any, artifacts: Path
) -> None:
    q = quarter
    base = q.server.url
    proxied = {"X-Forwarded-For": PROXIED}
    async with httpx.AsyncClient(base_url=base) as api:
        evaluator = {**q.headers(role="evaluator", institution_id="i1", subject="eva-1"), **proxied}
        adjustment = {"period": "2026-Q4", "object_type": "branch", "object_id": "b1", "points": "2.5",
                      "reason": "抗洪抢险志愿服务突出"}  # fmt: skip
        proposed = await api.post("/api/v1/adjustments", headers=evaluator, json=adjustment)
        assert proposed.status_code == 201, proposed.text
        admin = {**q.headers(role="institution_admin", institution_id="i1", subject="admin-i1"), **proxied}
        appeal = {"period": "2026-Q3", "object_type": "institution", "object_id": "i1",
                  "reason": "九月党课记录已上传但未计分"}  # fmt: skip
        assert (await api.post("/api/v1/appeals", headers=admin, json=appeal)).status_code == 201
        exemption = {"organization_id": "b2", "start": "2026-10-01", "end": "2026-10-31", "reason": "支部换届选举"}
        granted = await api.post("/api/v1/exemptions", headers={**q.headers(subject="sec-2"), **proxied},
                                 json=exemption)  # fmt: skip
        assert granted.status_code == 201, granted.text

    errors: list[str] = []
    sec = await _page(browser, f"{base}/?token={q.token(subject='sec-1')}#/queues", errors, viewport=DESKTOP)
    await sec.wait_for_selector('#view[data-ready="queues"]', timeout=30_000)
    text = await sec.inner_text("#view")
    for expected in ("待办队列", "待审批的人工调整", "国有银行甲第1支部", "抗洪抢险志愿服务突出", "eva-1", "批准",
                     "驳回", "待处理的申诉", "九月党课记录已上传但未计分", "申诉成立", "豁免", "国有银行甲第2支部",
                     "支部换届选举", "批准豁免"):
        assert expected in text, (expected, text)
    await sec.screenshot(path=str(artifacts / "20-queues-desktop.png"), full_page=True)

    row = sec.locator("#adjustment-table tbody tr").first
    await row.locator("input.note").fill("材料齐全，同意加分")
    await row.locator('button[data-decision="approved"]').click()
    await sec.wait_for_selector("#q-adjustments >> text=暂无待办", timeout=30_000)
    appeal_row = sec.locator("#appeal-table tbody tr").first
    await appeal_row.locator('button[data-decision="upheld"]').click()  # a resolution needs a note
    assert "请填写处理意见" in await appeal_row.inner_text()
    await appeal_row.locator("input.note").fill("已复核，补计党课")
    await appeal_row.locator('button[data-decision="upheld"]').click()
    await sec.wait_for_selector("#q-appeals >> text=暂无待办", timeout=30_000)

    await sec.goto(f"{base}/#/audit")
    await sec.wait_for_selector('#view[data-ready="audit"]', timeout=30_000)
    table = await sec.inner_text("#audit-table")
    for expected in ("批准人工调整", "提议人工调整", "申诉成立", "提出申诉", "批准豁免", "sec-1", "eva-1", "admin-i1",
                     "秘书处", "评价人", "机构党务管理员", PROXIED, "127.0.0.1", "已复核，补计党课"):
        assert expected in table, (expected, table)
    approved = sec.locator('#audit-table tr[data-action="adjustment.approved"]')
    assert await approved.count() == 1 and "127.0.0.1" in await approved.inner_text()
    await sec.screenshot(path=str(artifacts / "21-audit-desktop.png"), full_page=True)

    await sec.fill('#audit-filters input[name="actor"]', "eva-1")
    await sec.click('#audit-filters button[type="submit"]')
    await sec.wait_for_function("() => document.querySelectorAll('#audit-table tbody tr').length === 1", timeout=30_000)
    only = await sec.inner_text("#audit-table tbody")
    assert "提议人工调整" in only and PROXIED in only and "b1" in only
    assert "actor%3Deva-1" in sec.url or "actor=eva-1" in sec.url  # the filter stays in the address
    async with sec.expect_download() as download:
        await sec.click("#audit-export")
    assert (await download.value).suggested_filename == "audit.xlsx"

    await sec.click("#lang")
    await sec.wait_for_selector('#view[data-ready="audit"]', timeout=30_000)
    english = await sec.inner_text("#view")
    assert "Audit trail" in english and "Adjustment proposed" in english and "Evaluator" in english
    await sec.screenshot(path=str(artifacts / "21-audit-desktop-en.png"), full_page=True)
    await sec.click("#lang")  # back to Chinese for the next page of this context

    phone = await _page(browser, f"{base}/?token={q.token(subject='sec-1')}#/audit", errors, viewport=PHONE,
                        is_mobile=True)  # fmt: skip
    await phone.wait_for_selector('#view[data-ready="audit"]', timeout=30_000)
    label = "() => getComputedStyle(document.querySelector('#audit-table td:nth-child(3)'), '::before').content"
    assert await phone.evaluate(label) == '"操作人"'  # a row is a card on a phone, each cell labelled
    await _fits(phone, PHONE["width"])
    await phone.screenshot(path=str(artifacts / "21-audit-phone.png"), full_page=True)

    reader = await _page(browser, f"{base}/?token={q.token('institution_admin', 'i1', 'admin-i1')}#/queues", errors,
                         viewport=PHONE, is_mobile=True)  # fmt: skip
    await reader.wait_for_selector('#view[data-ready="queues"]', timeout=30_000)
    assert await reader.locator("#q-adjustments").count() == 0  # an institution does not see adjustments
    mine = await reader.inner_text("#view")
    assert "国有银行甲第2支部" in mine and "支部换届选举" in mine  # its exemption
    assert "待处理的申诉" in mine and "暂无待办" in mine  # its appeal was resolved above
    assert await reader.locator("button.resolve, button.decide, #exemption-form").count() == 0
    await _fits(reader, PHONE["width"])
    await reader.screenshot(path=str(artifacts / "20-queues-phone-institution-admin.png"), full_page=True)
    denied = await _page(browser, f"{base}/?token={q.token('institution_admin', 'i1', 'admin-i1')}#/audit", errors,
                         viewport=PHONE)  # fmt: skip
    await denied.wait_for_selector('#view[data-ready="error"]', timeout=30_000)
    assert "无权访问" in await denied.inner_text("#error")
    assert not errors, errors
