"""The HTTP API: rules and templates as data, previews, receipts, masking and who may see what; and
the SMS cap kept by the store."""

from __future__ import annotations

import pytest
from alliance_shared.clock import FixedClock
from alliance_shared.contracts.topics import NOTIFICATION_EVENTS
from alliance_shared.testing import TopicReader, wait_for

from .conftest import bearer, org_opened, publish, running, shanghai
from .test_channels import at_risk
from .test_reminders import _eq, deliveries, sent

pytestmark = pytest.mark.integration


async def test_rules_and_templates_are_data_the_secretariat_edits_and_previews(settings_for):
    async with running(settings_for(), FixedClock(shanghai(2026, 9, 15, 10, 0))) as (_, client):
        rules = (await client.get("/api/v1/rules", headers=bearer())).json()["items"]
        lagging = next(r for r in rules if r["name"] == "lagging_branch")
        assert [s["after_days"] for s in lagging["steps"]] == [0, 14, 30]

        lagging["steps"][1]["after_days"] = 10
        edited = await client.put("/api/v1/rules/lagging_branch", json=lagging, headers=bearer())
        assert edited.status_code == 200 and edited.json()["version"] == 2
        stale = await client.put("/api/v1/rules/lagging_branch", json=lagging, headers=bearer())
        assert stale.status_code == 409 and stale.json()["error"]["field"] == "version"

        bad = {**edited.json(), "steps": [{**lagging["steps"][0], "template": "nope"}]}
        refused = await client.put("/api/v1/rules/lagging_branch", json=bad, headers=bearer())
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "steps.0.template"
        backwards = {**edited.json(), "steps": list(reversed(edited.json()["steps"]))}
        assert (
            await client.put("/api/v1/rules/lagging_branch", json=backwards, headers=bearer())
        ).status_code == 422
        assert (
            await client.put(
                "/api/v1/rules/lagging_branch",
                json=lagging,
                headers=bearer("institution_admin", institution_id="i"),
            )
        ).status_code == 403

        broken = await client.put(
            "/api/v1/templates/custom",
            headers=bearer(),
            json={"email_subject_zh": "提醒", "email_body_zh": "{% if %}"},
        )
        assert broken.status_code == 422 and broken.json()["error"]["field"] == "email_body_zh"
        made = await client.put(
            "/api/v1/templates/custom",
            headers=bearer(),
            json={
                "email_subject_zh": "{{ organization_name }}请上报",
                "email_body_zh": "距今 {{ days_since_last_meeting }} 天",
                "email_subject_en": "Please report",
                "email_body_en": "{{ days_since_last_meeting }} days",
            },
        )
        assert made.status_code == 200
        preview = (
            await client.post(
                "/api/v1/templates/custom/preview",
                headers=bearer(),
                json={"context": {"days_since_last_meeting": 61}},
            )
        ).json()
        assert preview["email"]["subject"] == "零售业务部党支部请上报 / Please report"
        assert preview["email"]["text"].startswith("距今 61 天") and "61 days" in preview["email"]["text"]
        names = [t["name"] for t in (await client.get("/api/v1/templates", headers=bearer())).json()["items"]]
        assert {"custom", "lagging_reminder", "weekly_digest"} <= set(names)
        assert (await client.get("/api/v1/rules")).status_code == 401


async def test_rule_template_and_budget_edits_are_audited_and_announced_for_the_trail(settings_for):
    settings = settings_for()
    reader = TopicReader(settings.kafka_bootstrap_servers, settings.kafka_topic_prefix + NOTIFICATION_EVENTS)
    async with reader, running(settings, FixedClock(shanghai(2026, 9, 15, 10, 0))) as (app, client):
        sec = bearer(subject="sec-7")
        rule = next(r for r in (await client.get("/api/v1/rules", headers=sec)).json()["items"]
                    if r["name"] == "lagging_branch")
        rule["steps"][1]["after_days"] = 12
        assert (await client.put("/api/v1/rules/lagging_branch", json=rule, headers=sec)).status_code == 200
        stale = await client.put("/api/v1/rules/lagging_branch", json=rule, headers=sec)
        assert stale.status_code == 409  # refused: nothing audited
        body = {"email_subject_zh": "请上报", "email_body_zh": "请尽快上报"}
        assert (await client.put("/api/v1/templates/audit_custom", json=body, headers=sec)).status_code == 200
        budget = await client.put("/api/v1/institutions/inst-a/sms-budget", headers=sec,
                                  json={"monthly_budget_cny": 30, "version": 0})
        assert budget.status_code == 200, budget.text
        stored = await app.state.runtime.db.audit.find({}).to_list(None)
        assert sorted((a["action"], a["object_id"], a["actor"], a["ip"]) for a in stored) == [
            ("rule.updated", "lagging_branch", "sec-7", "127.0.0.1"),
            ("sms_budget.updated", "inst-a", "sec-7", "127.0.0.1"),
            ("template.created", "audit_custom", "sec-7", "127.0.0.1"),
        ]
        edited = next(a for a in stored if a["action"] == "rule.updated")
        assert edited["details"] == {"version": 2, "fields": ["steps"]}
        told = await reader.wait_for_events(3, where=lambda e: e.type == "fpba.notification_action.audited.v1")
        assert {e.data["audit_id"] for e in told} == {a["_id"] for a in stored}


async def test_receipts_move_a_sent_sms_to_delivered_once_and_institutions_see_only_their_own(
    settings_for, publisher, aliyun
):
    clock = FixedClock(shanghai(2026, 9, 15, 10, 0))
    await publish(publisher, org_opened("org-x", "inst-x", email="li@bank.example", phone="13700137000"))
    await publish(publisher, at_risk(clock))
    async with running(settings_for(), clock) as (app, client):
        await wait_for(lambda: _eq(sent(app), 2), timeout_s=60, what="reminders sent")
        sms = (await deliveries(app, channel="sms"))[0]
        receipt = {
            "delivery_id": sms["_id"],
            "provider": "aliyun",
            "receipt_id": "r-1",
            "status": "DELIVERED",
        }
        first = await client.post(
            "/api/v1/receipts", json=receipt, headers={"X-Receipt-Token": "receipt-token"}
        )
        again = await client.post(
            "/api/v1/receipts", json=receipt, headers={"X-Receipt-Token": "receipt-token"}
        )
        assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
        assert (await client.post("/api/v1/receipts", json=receipt)).status_code == 401
        wrong = await client.post(
            "/api/v1/receipts",
            json={**receipt, "status": "maybe"},
            headers={"X-Receipt-Token": "receipt-token"},
        )
        assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "status"

        own = (
            await client.get(
                "/api/v1/deliveries",
                headers=bearer("institution_admin", institution_id="inst-x"),
                params={"status": "delivered"},
            )
        ).json()
        # another institution's filter is refused, not narrowed to the caller's (issue 17 item 8)
        foreign = await client.get(
            "/api/v1/deliveries",
            headers=bearer("institution_admin", institution_id="inst-y"),
            params={"institution_id": "inst-x"},
        )
        bad = await client.get("/api/v1/deliveries", params={"channel": "fax"}, headers=bearer())
    assert [(i["channel"], i["recipient"], i["status"]) for i in own["items"]] == [
        ("sms", "137****7000", "delivered")
    ]
    assert [h["status"] for h in own["items"][0]["history"]][-1] == "delivered"
    assert own["items"][0]["history"][0]["at"].endswith("+08:00")
    assert foreign.status_code == 403 and foreign.json()["error"]["field"] == "institution_id"
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "channel"


async def test_a_phone_gets_at_most_five_sms_a_day(settings_for):
    async with running(settings_for(), FixedClock(shanghai(2026, 9, 15, 10, 0))) as (app, _):
        quota = app.state.notifier.store.sms_quota
        granted = [await quota.reserve("phone-hash", "2026-09-15", 5) for _ in range(7)]
        assert granted == [True] * 5 + [False] * 2
        assert await quota.reserve("phone-hash", "2026-09-16", 5) is True
        assert await quota.used("phone-hash", "2026-09-15") == 5
