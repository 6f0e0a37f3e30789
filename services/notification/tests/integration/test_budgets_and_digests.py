"""Limits per institution: an SMS budget per month set by the secretariat, its cost shown, a branch
over it reminded by email with a note; the closed loop broken down; and the weekly digest each
institution's Party committee gets about its own branches."""

from __future__ import annotations

import asyncio

import pytest
from alliance_shared.clock import FixedClock
from alliance_shared.contracts.evaluation import BranchFellBehind
from alliance_shared.testing import wait_for

from .conftest import bearer, institution_registered, org_opened, publish, running, shanghai
from .fakes import body_text
from .test_reminders import _eq, deliveries, sent

pytestmark = pytest.mark.integration


def lagging(org: str, clock: FixedClock) -> BranchFellBehind:
    return BranchFellBehind(
        organization_id=org,
        institution_id="inst-x",
        status="lagging",
        period="2026-Q3",
        days_since_last_meeting=70,
        detected_at=clock.now(),
    )


async def test_a_branch_over_its_institutions_sms_budget_is_reminded_by_email_with_a_note(
    settings_for, publisher, smtp, aliyun
):
    clock = FixedClock(shanghai(2026, 9, 15, 10, 0))  # a Tuesday
    await publish(publisher, institution_registered("inst-x"))
    await publish(
        publisher, org_opened("org-a", "inst-x", name="甲支部", email="a@bank.example", phone="13700000001")
    )
    await publish(
        publisher, org_opened("org-b", "inst-x", name="乙支部", email="b@bank.example", phone="13700000002")
    )
    admin = bearer("institution_admin", institution_id="inst-x")
    async with running(settings_for(sms_price_cny=0.045), clock) as (app, client):
        url = "/api/v1/institutions/inst-x/sms-budget"
        assert (await client.put(url, json={"monthly_budget_cny": 1}, headers=admin)).status_code == 403
        bad = await client.put(url, json={"monthly_budget_cny": -1}, headers=bearer())
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "monthly_budget_cny"
        first = await client.put(url, json={"monthly_budget_cny": 0.05, "version": 0}, headers=bearer())
        assert first.status_code == 200 and first.json()["monthly_budget_cny"] == 0.05
        stale = await client.put(url, json={"monthly_budget_cny": 9, "version": 0}, headers=bearer())
        assert stale.status_code == 409 and stale.json()["error"]["field"] == "version"

        await publish(publisher, lagging("org-a", clock))
        await wait_for(
            lambda: _eq(sent(app, organization_id="org-a"), 2), timeout_s=60, what="甲's email and SMS"
        )
        await publish(publisher, lagging("org-b", clock))  # 0.045 spent; one more would pass 0.05
        await wait_for(lambda: _eq(sent(app, organization_id="org-b", channel="email"), 1), what="乙's email")
        sms_b = await wait_for(
            lambda: _cancelled(app, "org-b"), timeout_s=30, what="乙's SMS withheld by the budget"
        )
        spend = (await client.get("/api/v1/sms-budgets", headers=admin)).json()
        foreign = await client.get("/api/v1/sms-budgets", params={"institution_id": "inst-y"}, headers=admin)
        shown = (await client.get(f"/api/v1/deliveries/{sms_b['_id']}", headers=bearer())).json()
        loop = (
            await client.get("/api/v1/reminders/effectiveness", params={"within_days": 3}, headers=admin)
        ).json()
    assert len(aliyun[1].accepted) == 1 and aliyun[1].accepted[0]["PhoneNumbers"] == "13700000001"
    assert shown["status"] == "cancelled" and shown["reason_zh"] == "本机构本月短信预算已用完，改发邮件"
    assert body_text(smtp.inbox.to("b@bank.example")[0]).startswith("【说明】本机构本月短信预算已用完")
    assert not body_text(smtp.inbox.to("a@bank.example")[0]).startswith("【说明】")
    assert spend["month"] == "2026-09" and spend["items"] == [
        {
            "institution_id": "inst-x",
            "institution_name": "示例银行深圳分行",
            "month": "2026-09",
            "sms": 1,
            "segments": 1,
            "cost_cny": 0.045,
            "monthly_budget_cny": 0.05,
            "remaining_cny": 0.005,
            "over_budget": False,
            "version": 1,
        }
    ]
    assert foreign.status_code == 403
    by_channel = {g["channel"]: g["reminders"] for g in loop["breakdown"]["by_channel"]}
    assert by_channel == {"email": 2, "sms": 1} and loop["breakdown"]["within_days"] == 3
    assert [(g["hour"], g["window_open"]) for g in loop["breakdown"]["by_hour"]] == [(10, 2)]
    assert [g["label"] for g in loop["breakdown"]["by_step"]] == ["落后支部 · 提醒支部书记"]


async def _cancelled(app, org: str):
    docs = await deliveries(app, organization_id=org, channel="sms", status="cancelled")
    return docs[0] if docs else None


async def test_each_institutions_committee_gets_a_weekly_digest_about_its_own_branches(
    settings_for, publisher, smtp
):
    clock = FixedClock(shanghai(2026, 9, 13, 10, 0))  # Sunday: the branch's case opens first
    for inst, committee_mail, branch in (
        ("inst-x", "cx@bank.example", "甲支部"),
        ("inst-y", "cy@ins.example", "丙支部"),
    ):
        await publish(publisher, institution_registered(inst, name=f"{inst}机构"))
        await publish(
            publisher,
            org_opened(f"{inst}-c", inst, kind="committee", name=f"{inst}党委", email=committee_mail),
        )
        await publish(publisher, org_opened(f"{inst}-b", inst, name=branch, parent=f"{inst}-c"))
    await publish(publisher, lagging("inst-x-b", clock))
    async with running(settings_for(), clock) as (app, _):
        cases = app.state.notifier.store.cases
        await wait_for(lambda: _eq(cases.count({"status": "open"}), 1), timeout_s=60, what="甲's case")
        clock.set(shanghai(2026, 9, 14, 9, 30))  # Monday
        await wait_for(
            lambda: _eq(sent(app, rule="institution_weekly_digest"), 2), timeout_s=60, what="digests"
        )
        await asyncio.sleep(0.6)  # a few more digest passes: still once
    x, y = smtp.inbox.to("cx@bank.example"), smtp.inbox.to("cy@ins.example")
    digests = [m for m in x if "所属支部提醒周报 2026-W38" in m["Subject"]]
    assert len(digests) == 1 and len([m for m in y if "周报" in m["Subject"]]) == 1
    text = body_text(digests[0])
    assert text.startswith("inst-x党委：") and "甲支部（落后支部" in text and "丙支部" not in text
    assert "所属支部均已按时上报" in body_text(y[0]) and "甲支部" not in body_text(y[0])
