"""Reminders end to end on the real broker and store: never twice, never in quiet hours, escalating on
the clock, and stopping when the branch reports."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from alliance_notification.domain.deliveries import PENDING
from alliance_shared.clock import FixedClock
from alliance_shared.contracts.activity import MeetingHeld
from alliance_shared.contracts.evaluation import BranchFellBehind
from alliance_shared.contracts.topics import NOTIFICATION_EVENTS
from alliance_shared.testing import TopicReader, wait_for

from .conftest import SECRETARIAT, bearer, institution_registered, org_opened, publish, running, shanghai
from .fakes import body_text

pytestmark = pytest.mark.integration

ORG, INST = "org-retail", "inst-bank"
SECRETARY_EMAIL, SECRETARY_PHONE = "zhang.shuji@bank.example", "13800138000"


def lagging(org: str, clock: FixedClock, status: str = "lagging") -> BranchFellBehind:
    return BranchFellBehind(
        organization_id=org,
        institution_id=INST,
        status=status,
        period="2026-Q3",
        days_since_last_meeting=75,
        detected_at=clock.now(),
    )


async def deliveries(app, **query):
    docs, _ = await app.state.notifier.store.deliveries.search(query, 100)
    return docs


async def sent(app, **query) -> int:
    return len([d for d in await deliveries(app, **query) if d["status"] == "sent"])


async def test_a_lagging_branch_gets_one_email_and_one_sms_when_the_event_comes_three_times_across_a_restart(
    settings_for, publisher, smtp, aliyun, topics, infra
):
    settings, clock = settings_for(), FixedClock(shanghai(2026, 9, 15, 10, 0))
    await publish(publisher, institution_registered(INST))
    await publish(publisher, org_opened(ORG, INST, email=SECRETARY_EMAIL, phone=SECRETARY_PHONE))
    fact = lagging(ORG, clock)
    first = await publish(publisher, fact)

    async with TopicReader(infra.kafka_bootstrap_servers, topics + NOTIFICATION_EVENTS) as announced:
        async with running(settings, clock) as (app, _):
            await wait_for(lambda: sent(app, organization_id=ORG), what="the first reminder", timeout_s=60)
            await wait_for(lambda: _eq(sent(app, organization_id=ORG), 2), what="email and SMS sent")

        # the service is down; the same event is delivered twice more and evaluation rescans (new id)
        await publish(publisher, fact, first)
        await publish(publisher, fact, first)
        await publish(publisher, fact)

        async with running(settings, clock) as (app, client):
            state = lambda: app.state.runtime.runners[0].state  # noqa: E731
            await wait_for(
                lambda: _true(state().duplicates >= 2 and state().handled >= 1),
                what="the redeliveries consumed",
                timeout_s=60,
            )
            await asyncio.sleep(0.5)  # several dispatcher passes
            answer = (
                await client.get("/api/v1/deliveries", params={"organization_id": ORG}, headers=bearer())
            ).json()
        await announced.wait_for_events(4, where=lambda e: e.data["organization_id"] == ORG)

    assert len(smtp.inbox.messages) == 1 and smtp.inbox.messages[0]["To"] == SECRETARY_EMAIL
    mail = smtp.inbox.messages[0]
    assert mail["Subject"].startswith("【市金融党建联盟】零售业务部党支部组织生活提醒 / ")
    text = body_text(mail)
    assert text.index("支部书记同志") < text.index("Dear branch secretary") and "75" in text
    accepted = aliyun[1].accepted
    assert len(accepted) == 1 and accepted[0]["PhoneNumbers"] == SECRETARY_PHONE
    items = answer["items"]
    assert sorted((i["channel"], i["status"], i["recipient"]) for i in items) == [
        ("email", "sent", "z***@bank.example"),
        ("sms", "sent", "138****8000"),
    ]
    assert accepted[0]["OutId"] == next(i["id"] for i in items if i["channel"] == "sms")
    assert accepted[0]["TemplateParam"] == {"branch": "零售业务部党支部", "days": "75"}
    statuses = sorted(e.data["status"] for e in announced.events() if e.data["organization_id"] == ORG)
    assert statuses == ["queued", "queued", "sent", "sent"]
    assert SECRETARY_PHONE not in str(answer) and SECRETARY_EMAIL not in str(answer)


async def test_quiet_hours_defer_an_sms_to_eight_in_the_morning(settings_for, publisher, smtp, aliyun):
    clock = FixedClock(shanghai(2026, 9, 15, 22, 30))
    await publish(publisher, org_opened(ORG, INST, email=SECRETARY_EMAIL, phone=SECRETARY_PHONE))
    await publish(publisher, lagging(ORG, clock))
    async with running(settings_for(), clock) as (app, _):
        await wait_for(lambda: _eq(sent(app, channel="email"), 1), what="the email at night", timeout_s=60)
        sms = await wait_for(
            lambda: _first(deliveries(app, channel="sms", status="deferred")), what="sms deferred"
        )
        assert sms["due_at"] == shanghai(2026, 9, 16, 8, 0)
        assert sms["history"][-1]["note"] == "quiet_hours"

        clock.set(shanghai(2026, 9, 16, 7, 59))
        await asyncio.sleep(0.5)
        assert aliyun[1].accepted == []

        clock.set(shanghai(2026, 9, 16, 8, 0))
        await wait_for(lambda: _eq(sent(app, channel="sms"), 1), what="the sms at eight")
        sms = (await deliveries(app, channel="sms"))[0]
    assert [h["status"] for h in sms["history"]] == ["queued", "deferred", "sent"]
    assert len(aliyun[1].accepted) == 1


async def test_escalation_climbs_on_the_clock_and_stops_for_the_branch_that_reports(
    settings_for, publisher, smtp, aliyun
):
    day0 = shanghai(2026, 8, 4, 10, 0)  # a Tuesday: the weekly digest stays out of the way
    clock = FixedClock(day0)
    await publish(publisher, institution_registered(INST))
    await publish(
        publisher,
        org_opened(
            "org-committee",
            INST,
            kind="committee",
            name="示例银行党委",
            email="dangwei@bank.example",
            phone="13900139000",
        ),
    )
    await publish(
        publisher, org_opened("org-a", INST, name="甲党支部", email="a@bank.example", phone="13800000001")
    )
    await publish(
        publisher, org_opened("org-b", INST, name="乙党支部", email="b@bank.example", phone="13800000002")
    )
    await publish(publisher, lagging("org-a", clock))
    await publish(publisher, lagging("org-b", clock))

    async with running(settings_for(), clock) as (app, client):
        await wait_for(lambda: _eq(sent(app), 4), what="first reminders to both branches", timeout_s=60)

        clock.set(day0 + timedelta(days=5))  # branch B holds a meeting
        await publish(
            publisher,
            MeetingHeld(
                organization_id="org-b",
                meeting_kind="branch_general_meeting",
                held_at=clock.now(),
                expected_count=10,
                attendee_ids=["m1"],
            ),
        )
        await wait_for(lambda: _resolved(client, "org-b"), what="B's case closed")

        clock.set(day0 + timedelta(days=14, minutes=1))
        await wait_for(
            lambda: _eq(sent(app, organization_id="org-a", step="committee"), 2), what="A escalated"
        )
        assert len(smtp.inbox.to("dangwei@bank.example")) == 1
        assert await deliveries(app, organization_id="org-b", step="committee") == []

        clock.set(day0 + timedelta(days=30, minutes=1))
        await wait_for(
            lambda: _eq(sent(app, organization_id="org-a", step="secretariat"), 1), what="secretariat"
        )
        listed = (await client.get("/api/v1/cases", params={"step": "secretariat"}, headers=bearer())).json()
        assert [c["organization_id"] for c in listed["items"]] == ["org-a"]

        clock.set(day0 + timedelta(days=31))  # A finally reports
        await publish(
            publisher,
            MeetingHeld(
                organization_id="org-a",
                meeting_kind="party_lesson",
                held_at=clock.now(),
                expected_count=10,
                attendee_ids=["m1"],
            ),
        )
        await wait_for(lambda: _resolved(client, "org-a"), what="A's case closed")
        clock.set(day0 + timedelta(days=60))
        await asyncio.sleep(0.5)
        total = len(await deliveries(app))
        loop = (await client.get("/api/v1/reminders/effectiveness", headers=bearer())).json()

    assert total == 4 + 2 + 1  # nothing after the reports
    assert next(m["Subject"] for m in smtp.inbox.to(SECRETARIAT)).startswith("【秘书处清单】甲党支部")
    assert len(smtp.inbox.to("b@bank.example")) == 1 and len(aliyun[1].accepted) == 2 + 1
    # B answered its reminder within 14 days; A answered only the secretariat's (day 30 → 31)
    assert {k: v for k, v in loop.items() if k != "breakdown"} == {
        "reminders": 4,
        "reported_within_14_days": 2,
        "not_reported_within_14_days": 2,
        "window_open": 0,
        "rate": 0.5,
    }


async def _resolved(client, org: str) -> bool:
    answer = (await client.get("/api/v1/cases", params={"status": "resolved"}, headers=bearer())).json()
    return any(c["organization_id"] == org for c in answer["items"])


async def _eq(value, expected) -> bool:
    return (await value) == expected


async def _true(value: bool) -> bool:
    return value


async def _first(items):
    found = await items
    return found[0] if found else None


async def test_a_kafka_batch_of_meetings_closes_the_branches_cases_in_a_few_store_commands(
    settings_for, publisher, monkeypatch
):
    clock = FixedClock(shanghai(2026, 8, 4, 10, 0))
    lagging_orgs = [f"org-l{i:02d}" for i in range(12)]
    for org in lagging_orgs:
        await publish(publisher, lagging(org, clock))
    async with running(settings_for(), clock) as (app, _):
        store = app.state.notifier.store
        await wait_for(lambda: _eq(store.cases.count({"status": "open"}), 12), what="12 open cases", timeout_s=60)
        repositories = {"open_of": type(store.cases), "mark_reported": type(store.reminders)}
    # the meetings wait on the topic while the service is stopped, so that its consumer finds them
    # together (published one by one to a running consumer, they arrived in as many polls as it made)
    clock.set(shanghai(2026, 8, 9, 10, 0))
    meetings = [*lagging_orgs, *(f"org-q{i:02d}" for i in range(38))]  # 50 meetings, 38 branches not behind
    for org in meetings:
        await publish(
            publisher,
            MeetingHeld(
                organization_id=org,
                meeting_kind="party_lesson",
                held_at=clock.now(),
                expected_count=10,
                attendee_ids=["m1"],
            ),
        )
    calls: list[str] = []
    for name, repo_class in repositories.items():
        original = getattr(repo_class, name)

        async def counted(self, *args, _original=original, _name=name, **kw):
            calls.append(_name)
            return await _original(self, *args, **kw)

        monkeypatch.setattr(repo_class, name, counted)
    async with running(settings_for(), clock) as (app, _):
        store = app.state.notifier.store
        await wait_for(lambda: _eq(store.cases.count({"status": "resolved"}), 12), what="12 cases closed")

        async def settled() -> bool:  # a case is closed before its queued sends are cancelled
            return not {d["status"] for d in await deliveries(app)} & set(PENDING)

        await wait_for(settled, what="the closed cases' sends cancelled")
        statuses = {d["status"] for d in await deliveries(app)}
        assert statuses and not statuses & set(PENDING), statuses  # their sends cancelled
    # one query for the open cases and one bulk write for the reminders per Kafka batch, not per meeting
    assert 1 <= calls.count("open_of") == calls.count("mark_reported") < len(meetings) // 4, calls
