"""Channels failing: an SMTP server that refuses once, an SMS provider that refuses always."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alliance_shared.clock import FixedClock
from alliance_shared.contracts.evaluation import BranchFellBehind
from alliance_shared.testing import wait_for

from .conftest import bearer, org_opened, publish, running, shanghai
from .test_reminders import _eq, _first, deliveries, sent

pytestmark = pytest.mark.integration


def at_risk(clock: FixedClock) -> BranchFellBehind:
    return BranchFellBehind(
        organization_id="org-x",
        institution_id="inst-x",
        status="at_risk",
        period="2026-Q3",
        days_since_last_meeting=40,
        org_life_score=42.0,
        detected_at=clock.now(),
    )


async def test_an_smtp_failure_is_retried_after_backoff_and_then_succeeds(settings_for, publisher, smtp):
    clock = FixedClock(shanghai(2026, 9, 15, 10, 0))
    smtp.inbox.fail_next = 1
    await publish(publisher, org_opened("org-x", "inst-x", email="li@bank.example", phone="13700137000"))
    await publish(publisher, at_risk(clock))
    async with running(settings_for(), clock) as (app, _):
        retry = await wait_for(
            lambda: _first(deliveries(app, channel="email", attempts=1)),
            timeout_s=60,
            what="the refused attempt",
        )
        assert retry["status"] == "queued" and retry["due_at"] == clock.now() + timedelta(seconds=60)
        assert smtp.inbox.messages == [] and smtp.inbox.refused == 1

        clock.advance(timedelta(seconds=61))
        await wait_for(lambda: _eq(sent(app, channel="email"), 1), what="the retry to succeed")
        email = (await deliveries(app, channel="email"))[0]
    assert [h["status"] for h in email["history"]] == ["queued", "attempt_failed", "sent"]
    assert email["history"][1]["transient"] is True and "451" in email["history"][1]["error"]
    assert email["attempts"] == 2 and len(smtp.inbox.to("li@bank.example")) == 1


async def test_a_permanently_failing_provider_falls_back_to_the_second(
    settings_for, publisher, aliyun, tencent
):
    clock = FixedClock(shanghai(2026, 9, 15, 10, 0))
    await publish(publisher, org_opened("org-x", "inst-x", email="li@bank.example", phone="13700137000"))
    await publish(publisher, at_risk(clock))
    # a rotated secret the configuration missed: Aliyun refuses every signature
    async with running(settings_for(aliyun_access_key_secret="stale-secret"), clock) as (app, _):
        await wait_for(
            lambda: _eq(sent(app, channel="sms"), 1), timeout_s=60, what="the SMS via the fallback"
        )
        sms = (await deliveries(app, channel="sms"))[0]
    assert aliyun[1].refused == ["SignatureDoesNotMatch"] and aliyun[1].accepted == []
    assert len(tencent[1].accepted) == 1
    request = tencent[1].accepted[0]
    assert request["PhoneNumberSet"] == ["+8613700137000"] and request["SessionContext"] == sms["_id"]
    assert request["TemplateId"] == "1000003" and request["TemplateParamSet"] == ["零售业务部党支部"]
    assert sms["provider"] == "tencent" and [h["status"] for h in sms["history"]] == [
        "queued",
        "attempt_failed",
        "sent",
    ]
    assert sms["history"][1]["provider"] == "aliyun" and sms["history"][1]["note"] == "fallback_provider"


async def test_with_every_provider_refusing_the_sms_fails_into_the_dead_letters_and_can_be_requeued(
    settings_for, publisher, aliyun, tencent
):
    clock = FixedClock(shanghai(2026, 9, 15, 10, 0))
    await publish(publisher, org_opened("org-x", "inst-x", email="li@bank.example", phone="13700137000"))
    await publish(publisher, at_risk(clock))
    settings = settings_for(aliyun_access_key_secret="stale", tencent_secret_key="stale")
    async with running(settings, clock) as (app, client):
        failed = await wait_for(
            lambda: _first(deliveries(app, channel="sms", status="failed")),
            timeout_s=60,
            what="the SMS to fail",
        )
        letters = (await client.get("/api/v1/dead-letters", headers=bearer())).json()["items"]
        assert [(d["delivery_id"], d["recipient"]) for d in letters] == [(failed["_id"], "137****7000")]
        assert "AuthFailure" in letters[0]["reason"]
        shown = (await client.get(f"/api/v1/deliveries/{failed['_id']}", headers=bearer())).json()
        # why, in Chinese, from the providers' codes (SignatureDoesNotMatch, AuthFailure.SignatureFailure)
        assert shown["reason_zh"] == "短信平台鉴权失败（签名不匹配）"
        assert [h.get("reason_zh") for h in shown["history"] if h["status"] in ("attempt_failed", "failed")] == [
            "短信平台鉴权失败（签名不匹配）"
        ] * 2

        requeued = await client.post(f"/api/v1/deliveries/{failed['_id']}/retry", headers=bearer())
        assert requeued.status_code == 200 and requeued.json()["status"] in ("queued", "failed")
        await wait_for(lambda: _eq(_letters(client), 2), what="the second failure dead-lettered")
    assert aliyun[1].refused == ["SignatureDoesNotMatch"] * 2
    assert tencent[1].refused == ["AuthFailure.SignatureFailure"] * 2


async def _letters(client) -> int:
    return len((await client.get("/api/v1/dead-letters", headers=bearer())).json()["items"])
