"""The other rules: rejected submissions to the reporter, overdue transfers to both organisations,
and the weekly digest to the secretariat — each exactly once."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from alliance_shared.clock import FixedClock
from alliance_shared.contracts.activity import RejectionReason, SubmissionRejected
from alliance_shared.contracts.evaluation import BranchFellBehind
from alliance_shared.contracts.registry import TransferOverdue
from alliance_shared.testing import wait_for

from .conftest import SECRETARIAT, contact, institution_registered, org_opened, publish, running, shanghai
from .fakes import body_text
from .test_reminders import _eq, _first, deliveries, sent

pytestmark = pytest.mark.integration


def rejected(submission: str, field: str, reason: str, clock: FixedClock) -> SubmissionRejected:
    return SubmissionRejected(
        submission_id=submission,
        institution_id="inst-r",
        channel="batch",
        received_at=clock.now(),
        event_type_submitted="fpba.meeting.held.v1",
        reasons=[RejectionReason(field=field, reason=reason)],
    )


async def test_rejected_submissions_reach_the_reporting_institution_gathered_in_one_email(
    settings_for, publisher, smtp
):
    clock = FixedClock(shanghai(2026, 9, 15, 10, 0))
    await publish(
        publisher, institution_registered("inst-r", admin=contact("王管理员", "wang@bank.example", None))
    )
    await publish(publisher, rejected("ev-1", "data.held_at", "缺少时区 / missing UTC offset", clock))
    await publish(
        publisher, rejected("ev-2", "data.organization_id", "未知组织 / unknown organisation", clock)
    )
    async with running(settings_for(), clock) as (app, _):
        reminders = app.state.notifier.store.reminders
        key = "submission_rejected|inst-r|2026-09-15|reporter"
        await wait_for(lambda: _count(reminders.get(key)), timeout_s=60, what="both rejections gathered")
        waiting = await wait_for(lambda: _first(deliveries(app, rule="submission_rejected")), what="queued")
        assert waiting["due_at"] == clock.now() + timedelta(minutes=10) and smtp.inbox.messages == []

        clock.advance(timedelta(minutes=11))
        await wait_for(
            lambda: _eq(sent(app, rule="submission_rejected"), 1), what="the email to the reporter"
        )
    mails = smtp.inbox.to("wang@bank.example")
    assert len(mails) == 1 and mails[0]["Subject"].startswith("【市金融党建联盟】2 条上报未被接收")
    text = body_text(mails[0])
    chinese, english = text.split("----------")
    # the Chinese part names each field by its name, the English part by its path
    assert "ev-1 召开时间：缺少时区" in chinese and "ev-2 党组织编号：未知组织" in chinese
    assert "data.held_at" not in chinese and "ev-1 data.held_at: missing UTC offset" in english


async def _count(reminder) -> bool:
    found = await reminder
    return bool(found) and found["context"]["rejected_count"] == 2


async def test_an_overdue_transfer_reminds_both_organisations(settings_for, publisher, smtp, aliyun):
    clock = FixedClock(shanghai(2026, 9, 15, 10, 0))
    await publish(
        publisher,
        org_opened("org-from", "inst-1", name="甲党支部", email="from@a.example", phone="13800000011"),
    )
    await publish(
        publisher, org_opened("org-to", "inst-2", name="乙党支部", email="to@b.example", phone="13800000022")
    )
    overdue = TransferOverdue(
        transfer_id="tr-1",
        member_id="m-1",
        institution_id="inst-1",
        from_organization_id="org-from",
        to_organization_id="org-to",
        to_institution_id="inst-2",
        requested_at=clock.now() - timedelta(days=35),
        deadline=date(2026, 9, 10),
        days_overdue=5,
    )
    await publish(publisher, overdue)
    await publish(publisher, overdue)  # the registry's scan runs again
    async with running(settings_for(), clock) as (app, _):
        await wait_for(
            lambda: _eq(sent(app, rule="transfer_overdue"), 4), timeout_s=60, what="both sides reminded"
        )
        await asyncio.sleep(0.3)
    assert len(smtp.inbox.to("from@a.example")) == 1 and len(smtp.inbox.to("to@b.example")) == 1
    assert sorted(a["PhoneNumbers"] for a in aliyun[1].accepted) == ["13800000011", "13800000022"]
    assert "甲党支部转往乙党支部" in body_text(smtp.inbox.to("to@b.example")[0])


async def test_the_weekly_digest_goes_to_the_secretariat_once_a_week_even_across_restarts(settings_for, smtp):
    clock = FixedClock(shanghai(2026, 9, 14, 9, 30))  # Monday
    for _ in range(2):
        async with running(settings_for(), clock) as (app, _):
            await wait_for(lambda: _eq(sent(app, rule="weekly_digest"), 1), timeout_s=30, what="the digest")
            await asyncio.sleep(0.6)  # a few more digest passes
    mails = smtp.inbox.to(SECRETARIAT)
    assert len(mails) == 1 and "提醒周报 2026-W38" in mails[0]["Subject"]
    assert "未结案件 0 件" in body_text(mails[0])


async def test_a_second_reminder_within_seven_days_waits_for_the_week_to_pass(settings_for, publisher, smtp):
    day0 = shanghai(2026, 9, 29, 10, 0)  # a Tuesday, away from the weekly digest
    clock = FixedClock(day0)
    await publish(publisher, org_opened("org-t", "inst-t", email="t@bank.example", phone=None))

    def fact(period: str) -> BranchFellBehind:
        return BranchFellBehind(
            organization_id="org-t",
            institution_id="inst-t",
            status="lagging",
            period=period,
            days_since_last_meeting=70,
            detected_at=clock.now(),
        )

    await publish(publisher, fact("2026-Q3"))
    async with running(settings_for(), clock) as (app, _):
        await wait_for(
            lambda: _eq(sent(app, channel="email", organization_id="org-t"), 1),
            timeout_s=60,
            what="the Q3 reminder",
        )
        clock.set(day0 + timedelta(days=3))  # a new quarter, still lagging
        await publish(publisher, fact("2026-Q4"))
        later = await wait_for(
            lambda: _first(deliveries(app, period="2026-Q4", channel="email")), what="Q4 one"
        )
        assert later["status"] == "deferred" and later["due_at"] == day0 + timedelta(days=7)
        assert later["history"][0]["note"] == "throttled"

        clock.set(day0 + timedelta(days=7))
        await wait_for(
            lambda: _eq(sent(app, channel="email", organization_id="org-t"), 2),
            what="the Q4 reminder after the week",
        )
    assert len(smtp.inbox.to("t@bank.example")) == 2
