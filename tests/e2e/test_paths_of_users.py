"""The users' paths through the whole platform, four services as processes on the real broker and
store: the secretariat registers an institution and issues its key; the institution reports through
every channel; the secretariat sees the score and its evidence; a lagging branch is reminded by
email and SMS, and the delivery shows in the unified view."""

from __future__ import annotations

import io
import json
import time
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import httpx
import pytest
from alliance_shared.auth import key_id_of, webhook_signature
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import ACTIVITY_INGEST
from alliance_shared.kafka.principal import signed
from alliance_shared.kafka.producer import EventPublisher, Outgoing
from alliance_shared.testing import wait_for
from e2e_alliance import Alliance
from e2e_api import Platform, current_period, days_ago, event, expect, meeting, token
from openpyxl import load_workbook

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SOURCE = "/e2e/oa-system"


async def test_an_institution_reports_through_every_channel_and_each_event_counts_once(
    platform: Platform, alliance: Alliance
) -> None:
    a = alliance
    admin = token("institution_admin", institution_id=a.institution_id)
    async with platform.client("activity", token=admin) as activity:
        # L1: the branch secretary fills the downloaded template; one row names a branch that is not theirs
        template = await activity.get("/api/v1/templates/meeting.xlsx")
        book = load_workbook(io.BytesIO(expect_bytes(template)))
        sheet = book.worksheets[0]
        headers = [c.value for c in sheet[1]]
        held = days_ago(3).replace(tzinfo=None)
        rows = [
            {
                "党组织编号": a.branch,
                "会议类型": "主题党日",
                "召开时间": held,
                "参会党员编号": ",".join(a.members[:3]),
                "应到人数": 3,
                "会议主题": "主题党日：走进社区",
            },
            {"党组织编号": "org-not-ours", "会议类型": "支部委员会", "召开时间": held, "应到人数": 3},
        ]
        for row in rows:
            sheet.append([row.get(str(h).replace("*", "").strip()) for h in headers])
        out = io.BytesIO()
        book.save(out)
        report = expect(
            await activity.post(
                "/api/v1/uploads", data={"kind": "meeting"}, files={"file": ("三会一课.xlsx", out.getvalue())}
            )
        )
        assert report["accepted"] == 1 and len(report["rejected"]) == 1, report
        assert report["rejected"][0]["row"] == sheet.max_row and report["rejected"][0]["reason"]

    async with platform.client("activity", api_key=a.api_key) as activity:
        # L2: a batch from the institution's OA system, with a repeat and a stranger in it
        committee_meeting = meeting(a.branch, "branch_committee_meeting", days_ago(2), a.members[:3], source=SOURCE)
        learning = event(
            "learning.completed",
            {"member_id": a.members[0], "date": str(days_ago(2).date()), "minutes": 30, "course": "学习强国"},
            source=SOURCE,
        )
        dues = event(
            "dues.paid",
            {"member_id": a.members[1], "month": days_ago(2).strftime("%Y-%m"), "amount_cny": 50},
            source=SOURCE,
        )
        stranger = event(
            "learning.completed",
            {"member_id": "mem-nobody", "date": str(days_ago(2).date()), "minutes": 20},
            source=SOURCE,
        )
        old = meeting(a.lagging, "branch_committee_meeting", days_ago(75), a.members[3:], source=SOURCE)
        batch = [committee_meeting, learning, dues, committee_meeting, stranger, old]
        answer = expect(
            await activity.post(
                "/api/v1/events",
                content=json.dumps(batch),
                headers={"Content-Type": "application/cloudevents-batch+json"},
            ),
            202,
        )
        assert (answer["accepted"], answer["duplicates"]) == (4, 1), answer
        assert [r["id"] for r in answer["rejected"]] == [stranger["id"]] and answer["rejected"][0]["reason"]
        a.posted["batch"] = [committee_meeting["id"], learning["id"], dues["id"], old["id"]]

        # L3: the signed webhook (a wrong signature is refused)
        lesson = meeting(a.branch, "party_lesson", days_ago(1), a.members[:3], source=SOURCE)
        body = json.dumps(lesson).encode()
        stamp = str(int(time.time()))
        bad = await activity.post(
            f"/api/v1/webhooks/{a.institution_id}",
            content=body,
            headers={"Content-Type": "application/cloudevents+json", "X-Timestamp": stamp, "X-Signature": "sha256=00"},
        )
        assert bad.status_code == 401
        answer = expect(
            await activity.post(
                f"/api/v1/webhooks/{a.institution_id}",
                content=body,
                headers={
                    "Content-Type": "application/cloudevents+json",
                    "X-Timestamp": stamp,
                    "X-Signature": webhook_signature(a.api_key, stamp, body),
                },
            ),
            202,
        )
        assert answer["accepted"] == 1, answer
        a.posted["webhook"] = [lesson["id"]]

        # L3: binary-mode CloudEvents on activity.ingest.v1, keyed by the organisation, each record
        # signed with the institution's key (the e2e platform checks the principal as production does)
        general = CloudEvent.from_structured(
            meeting(a.branch, "branch_general_meeting", days_ago(1), a.members[:3], source=SOURCE)
        ).with_extensions(institutionid=a.institution_id)
        publisher = EventPublisher(
            platform.infra.kafka_bootstrap_servers, client_id="e2e-institution", topic_prefix=platform.topic_prefix
        )
        await publisher.start()
        try:
            await publisher.publish_many([_outgoing(a, general, a.branch)])
            await publisher.publish_many([_outgoing(a, general, a.branch)])  # sent twice
        finally:
            await publisher.stop()
        a.posted["stream"] = [general.id]

        async def submissions() -> dict[str, list[str]] | None:
            listing = expect(await activity.get("/api/v1/submissions", params={"page_size": 500}))
            by_channel: dict[str, list[str]] = {}
            for s in listing["items"]:
                if s["status"] == "accepted":
                    by_channel.setdefault(s["channel"], []).append(s["id"])
            return by_channel if "stream" in by_channel else None

        seen = await wait_for(submissions, timeout_s=60, interval_s=0.5, what="the Kafka event accepted")
    assert set(seen) >= {"upload", "batch", "webhook", "stream"}, seen
    assert sorted(seen["batch"]) == sorted(a.posted["batch"]) and seen["stream"] == [general.id]


async def test_the_secretariat_sees_the_institutions_score_and_the_evidence_behind_it(
    platform: Platform, alliance: Alliance
) -> None:
    a = alliance
    period = current_period()
    wanted = {a.posted["batch"][0], a.posted["webhook"][0], a.posted["stream"][0]}
    async with platform.client("evaluation", token=token("secretariat")) as evaluation:

        async def branch_card() -> dict[str, Any] | None:
            answer = await evaluation.get(f"/api/v1/periods/{period}/organizations/{a.branch}")
            if answer.status_code != 200:
                return None
            evidence = {e for item in answer.json()["breakdown"] for e in item.get("evidence") or []}
            return answer.json() if wanted <= evidence else None

        card = await wait_for(branch_card, timeout_s=90, interval_s=1, what="the branch scored with its evidence")
        org_life = next(i for i in card["breakdown"] if i["indicator"] == "org_life")
        assert wanted <= set(org_life["evidence"]) and org_life["points"] > 0
        institution = expect(await evaluation.get(f"/api/v1/periods/{period}/institutions/{a.institution_id}"))
    assert institution["grade"] in ("excellent", "good", "pass", "fail") and institution["score"] is not None
    assert {b["id"] for b in institution["branches"]} >= {a.branch, a.lagging}
    assert institution["ruleset"] and institution["breakdown"]


async def test_a_lagging_branch_is_reminded_by_email_and_sms_and_the_unified_view_shows_the_delivery(
    platform: Platform, alliance: Alliance, outside: Any
) -> None:
    a = alliance
    secretariat = token("secretariat")
    async with platform.client("notification", token=secretariat) as notification:
        # SMS waits through quiet hours (21:00-08:00 Beijing): lift them so the test holds at any hour
        rule = expect(await notification.get("/api/v1/rules"))
        lagging_rule = next(r for r in rule["items"] if r["name"] == "lagging_branch")
        changed = {k: v for k, v in lagging_rule.items() if k not in ("updated_at", "updated_by")}
        changed["quiet_hours"] = {**changed["quiet_hours"], "enabled": False}
        expect(await notification.put("/api/v1/rules/lagging_branch", json=changed))
        async with platform.client("evaluation", token=secretariat) as evaluation:
            # the scan is a job: 202 with its status URL, followed until it has ended
            started = await evaluation.post("/api/v1/scans/lagging")
            job = expect(started, 202)
            assert started.headers["location"] == job["status_url"], started.headers

            async def ended() -> bool:
                job.update(expect(await evaluation.get(started.headers["location"])))
                return job["state"] not in ("queued", "running")

            await wait_for(ended, timeout_s=120, interval_s=0.2, what="the lagging scan's job ended")
            scan = job["result"]
            assert job["state"] == "succeeded" and scan["fell_behind"] >= 1, job
            listing = expect(await evaluation.get("/api/v1/lagging", params={"institution_id": a.institution_id}))
            mine = {i["organization_id"]: i for i in listing["items"]}
            assert mine[a.lagging]["status"] == "lagging" and mine[a.lagging]["days_since_last_meeting"] >= 74
            assert a.branch not in mine or mine[a.branch]["status"] != "lagging"

            async def sent() -> list[dict[str, Any]] | None:
                items = expect(
                    await notification.get(
                        "/api/v1/deliveries", params={"organization_id": a.lagging, "rule": "lagging_branch"}
                    )
                )
                done = [d for d in items["items"] if d["status"] in ("sent", "delivered")]
                return items["items"] if {d["channel"] for d in done} >= {"email", "sms"} else None

            deliveries = await wait_for(sent, timeout_s=60, interval_s=0.5, what="email and SMS sent")
            assert all("*" in d["recipient"] for d in deliveries)  # masked
            assert all(d["history"][0]["status"] in ("queued", "deferred") for d in deliveries)

            async def shown() -> list[dict[str, Any]] | None:
                listing = expect(await evaluation.get("/api/v1/lagging", params={"institution_id": a.institution_id}))
                item = next((i for i in listing["items"] if i["organization_id"] == a.lagging), {})
                reminders = [
                    r for r in item.get("reminders", []) if r["status"] == "sent" and r["rule"] == "lagging_branch"
                ]
                return reminders if {r["channel"] for r in reminders} >= {"email", "sms"} else None

            reminders = await wait_for(shown, timeout_s=60, interval_s=0.5, what="deliveries in the unified view")
    # (near a quarter's end the same secretary may also hear of missing reports: count this rule's only)
    assert len(reminders) == 2, reminders
    sms = outside.sms.to(a.lagging_secretary["phone"])
    assert sms and all(m["SignName"] == "市金融党建联盟" and m["TemplateCode"] for m in sms), sms
    assert any(m["OutId"] in {d["id"] for d in deliveries if d["channel"] == "sms"} for m in sms)
    mails = [m for m in _mails(outside.mailbox) if a.lagging_secretary["email"] in m["To"]]
    assert mails and all("支部" in m["Subject"] for m in mails), [m["To"] for m in _mails(outside.mailbox)]


def _mails(mailbox: Any) -> list[dict[str, str]]:
    out = []
    for path in sorted(mailbox.directory.glob("*.eml")):
        msg = message_from_bytes(path.read_bytes())
        out.append({"To": str(msg.get("To", "")), "Subject": str(make_header(decode_header(msg.get("Subject", ""))))})
    return out


def expect_bytes(answer: httpx.Response) -> bytes:
    assert answer.status_code == 200, answer.text[:300]
    return answer.content


def _outgoing(a: Alliance, e: CloudEvent, key: str) -> Outgoing:
    """An L3 record as the institution's own producer writes it: signed with its API key."""
    key_id = key_id_of(a.api_key)
    assert key_id is not None
    return signed(Outgoing(ACTIVITY_INGEST, e, key), key_id, a.api_key)
