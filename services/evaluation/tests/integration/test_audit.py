"""The audit trail against the real broker and store: evaluation's own administrative actions
(adjustments, exemptions, a period's close and unlock) and the records registry and notification
announce on their topics land in one trail, which the secretariat reads through
`GET /api/v1/audit` (filters, a cursor, at most 500 a page) and as a workbook."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from alliance_shared.audit import audit_record
from alliance_shared.auth import Principal
from alliance_shared.contracts.audit import ActivityActionAudited, NotificationActionAudited, RegistryActionAudited
from alliance_shared.contracts.vocabulary import Role
from openpyxl import load_workbook

from .conftest import at

pytestmark = pytest.mark.integration
Q2 = "2026-Q2"


async def _trail(s: Any, **params: Any) -> dict[str, Any]:
    r = await s.client.get("/api/v1/audit", headers=s.token(), params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_every_administrative_action_is_in_one_trail_the_secretariat_reads_by_filter_and_page(
    service: Any,
) -> None:
    s = service
    await s.institution("au1")
    await s.branch("aub", ["au1"])
    await s.member("aum", "aub", "au1")
    await s.meeting("aub", "au1", "branch_committee_meeting", at(2026, 5, 3), ["aum"], 1, at(2026, 5, 3))
    await s.settle()
    one, two = s.token(subject="sec-1"), s.token(subject="sec-2")
    proposed = await s.client.post("/api/v1/adjustments", headers=one, json={
        "period": "2026-Q3", "object_type": "branch", "object_id": "aub", "points": "2.5", "reason": "抗洪志愿服务"})
    assert proposed.status_code == 201, proposed.text
    adj = proposed.json()["id"]
    decided = await s.client.post(f"/api/v1/adjustments/{adj}/decision", headers=two, json={"decision": "approved"})
    assert decided.status_code == 200, decided.text
    exempted = await s.client.post("/api/v1/exemptions", headers=one, json={
        "organization_id": "aub", "start": "2026-07-01", "end": "2026-07-31", "reason": "支部换届"})
    assert exempted.status_code == 201, exempted.text
    assert (await s.client.post(f"/api/v1/periods/{Q2}/close", headers=one)).status_code == 200
    ask = {"organization_id": "aub", "requested_by": "支部书记", "reason": "系统故障漏报",
           "until": "2026-10-20T18:00:00+08:00"}  # fmt: skip
    assert (await s.client.post(f"/api/v1/periods/{Q2}/unlocks", headers=one, json=ask)).status_code == 201

    # what registry and notification audited reaches the trail through their topics
    admin = Principal(subject="admin-au1", role=Role.INSTITUTION_ADMIN, institution_id="au1", ip="198.51.100.4")
    key = audit_record(admin, service="registry", action="api_key.issued", object_type="api_key",
                       object_id="k123", at=s.clock.now(), institution_id="au1",
                       details={"label": "OA 系统"}, kind=RegistryActionAudited)  # fmt: skip
    sec = Principal(subject="sec-3", role=Role.SECRETARIAT, ip="198.51.100.9")
    rule = audit_record(sec, service="notification", action="rule.updated", object_type="rule",
                        object_id="branch_lagging", at=s.clock.now(),
                        details={"version": 3, "fields": ["steps"]}, kind=NotificationActionAudited)  # fmt: skip
    reviewer = Principal(subject="admin-au1", role=Role.INSTITUTION_ADMIN, institution_id="au1", ip="198.51.100.4")
    review = audit_record(reviewer, service="activity", action="submission.returned", object_type="submission",
                          object_id="oa-meeting-1", at=s.clock.now(), institution_id="au1",
                          details={"version": 1, "event_type": "fpba.meeting.held.v1"},
                          kind=ActivityActionAudited)  # fmt: skip
    await s.publish(key)
    await s.publish(key)  # redelivered: one record
    await s.publish(rule)
    await s.publish(review)
    await s.settle()

    everything = await _trail(s)
    actions = [i["action"] for i in everything["items"]]
    assert {"adjustment.proposed", "adjustment.approved", "exemption.granted", "period.closed",
            "period.unlocked", "api_key.issued", "rule.updated", "submission.returned"} <= set(actions)  # fmt: skip
    assert actions.count("api_key.issued") == 1
    ids = [i["id"] for i in everything["items"]]
    assert ids == sorted(ids, reverse=True)  # newest first

    approved = (await _trail(s, actor="sec-2"))["items"]
    assert [(i["action"], i["object_type"], i["object_id"], i["institution_id"], i["actor_role"], i["ip"])
            for i in approved] == [("adjustment.approved", "branch", "aub", "au1", "secretariat", "127.0.0.1")]
    assert approved[0]["details"]["proposed_by"] == "sec-1" and approved[0]["details"]["points"] == "2.5"

    of_institution = await _trail(s, institution_id="au1", action="api_key.issued")
    assert [(i["service"], i["actor"], i["ip"]) for i in of_institution["items"]] == [
        ("registry", "admin-au1", "198.51.100.4")
    ]
    returned = (await _trail(s, action="submission.returned"))["items"]
    assert [(i["service"], i["object_id"], i["institution_id"], i["actor"]) for i in returned] == [
        ("activity", "oa-meeting-1", "au1", "admin-au1")
    ]
    unlocked = (await _trail(s, object_id="aub", action="period.unlocked"))["items"]
    assert unlocked[0]["period"] == Q2 and unlocked[0]["details"]["requested_by"] == "支部书记"

    # pages of two follow one another by the cursor, each record once
    seen: list[str] = []
    cursor = None
    while True:
        page = await _trail(s, limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids

    # a time range: nothing after the clock's instant, everything up to it
    later = datetime(2026, 10, 13, tzinfo=UTC).isoformat()
    assert (await _trail(s, since=later))["items"] == []
    assert len((await _trail(s, until=later))["items"]) == len(ids)

    book = await s.client.get("/api/v1/audit.xlsx", headers=s.token(), params={"institution_id": "au1"})
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("时间 / at", "操作 / action", "结果 / outcome", "操作人 / actor")
    assert {r[1] for r in rows[1:]} >= {"adjustment.approved", "api_key.issued", "period.unlocked"}


async def test_only_the_secretariat_reads_the_trail_and_a_page_is_bounded(service: Any) -> None:
    s = service
    admin = s.token("institution_admin", institution_id="au1", subject="admin-au1")
    assert (await s.client.get("/api/v1/audit", headers=admin)).status_code == 403
    assert (await s.client.get("/api/v1/audit.xlsx", headers=admin)).status_code == 403
    assert (await s.client.get("/api/v1/audit")).status_code == 401
    too_many = await s.client.get("/api/v1/audit", headers=s.token(), params={"limit": 501})
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "limit"
    forged = await s.client.get("/api/v1/audit", headers=s.token(), params={"cursor": "zzz"})
    assert forged.status_code == 422 and forged.json()["error"]["field"] == "cursor"
    backwards = await s.client.get("/api/v1/audit", headers=s.token(),
                                   params={"since": "2026-10-02T00:00:00Z", "until": "2026-10-01T00:00:00Z"})
    assert backwards.status_code == 422 and backwards.json()["error"]["field"] == "since"


async def test_records_of_the_older_shape_are_rewritten_in_the_one_shape(service: Any) -> None:
    s = service
    trail = s.ev.models.trail
    await s.ev.models.db.audit.insert_one(
        {"_id": "0f" * 16, "action": "follow_up.recorded", "organization_id": "aub", "by": "sec-9",
         "role": "secretariat", "at": at(2026, 10, 1), "fields": ["note"]})  # fmt: skip
    assert await trail.adopt_legacy() == 1
    items = (await _trail(s, actor="sec-9"))["items"]
    assert [(i["action"], i["object_id"], i["details"]["fields"]) for i in items] == [
        ("follow_up.recorded", "aub", ["note"])
    ]
    assert items[0]["id"].startswith("20261001T020000")
