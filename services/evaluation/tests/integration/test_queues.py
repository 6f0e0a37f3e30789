"""The queues against the real store: adjustments awaiting a second approver, open appeals and
exemptions are listed (`GET /api/v1/adjustments|appeals|exemptions`, 405 before), each item saying
whether the caller may act on it, and acting through the existing POST routes takes it off the
queue. Who sees what: the secretariat all, an evaluator their own proposals, an institution's
Party admin its own institution's appeals and exemptions."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


async def _get(s: Any, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await s.client.get(path, headers=headers, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_queues_list_what_awaits_a_decision_to_those_who_may_see_it_and_acting_clears_them(
    service: Any,
) -> None:
    s = service
    await s.institution("q1", name="国有银行甲")
    await s.institution("q2", name="民营证券乙")
    await s.branch("qb1", ["q1"])
    await s.branch("qb2", ["q2"])
    await s.settle()
    sec1, sec2 = s.token(subject="sec-1"), s.token(subject="sec-2")
    evaluator = s.token("evaluator", institution_id="q1", subject="eva-1")
    admin1 = s.token("institution_admin", institution_id="q1", subject="admin-q1")
    branch = s.token("branch_secretary", institution_id="q1", organization_id="qb1", subject="bs-q1")

    def adjustment(object_id: str, points: str) -> dict[str, Any]:
        return {"period": "2026-Q4", "object_type": "branch", "object_id": object_id, "points": points,
                "reason": "抗洪抢险志愿服务"}  # fmt: skip

    by_evaluator = (await s.client.post("/api/v1/adjustments", headers=evaluator, json=adjustment("qb1", "3"))).json()
    by_sec1 = (await s.client.post("/api/v1/adjustments", headers=sec1, json=adjustment("qb2", "-2"))).json()

    pending = await _get(s, "/api/v1/adjustments", sec1)
    assert {(i["id"], i["can_decide"]) for i in pending["items"]} == {
        (by_evaluator["id"], True), (by_sec1["id"], False)}
    assert pending["total"] == 2
    named = next(i for i in pending["items"] if i["id"] == by_evaluator["id"])
    assert (named["object_name"], named["institution_id"], named["institution_name"]) == ("支部qb1", "q1", "国有银行甲")
    own = await _get(s, "/api/v1/adjustments", evaluator)
    assert [(i["id"], i["can_decide"]) for i in own["items"]] == [(by_evaluator["id"], False)]
    of_q2 = await _get(s, "/api/v1/adjustments", sec1, institution_id="q2")
    assert [i["id"] for i in of_q2["items"]] == [by_sec1["id"]]
    assert (await s.client.get("/api/v1/adjustments", headers=admin1)).status_code == 403
    other = await s.client.get("/api/v1/adjustments", headers=evaluator, params={"institution_id": "q2"})
    assert other.status_code == 403 and other.json()["error"]["field"] == "institution_id"

    # the proposer cannot approve their own; another member of the secretariat can
    mine = await s.client.post(f"/api/v1/adjustments/{by_sec1['id']}/decision", headers=sec1,
                               json={"decision": "approved"})
    assert mine.status_code == 403
    ok = await s.client.post(f"/api/v1/adjustments/{by_evaluator['id']}/decision", headers=sec1,
                             json={"decision": "approved", "note": "材料齐全"})  # fmt: skip
    assert ok.status_code == 200, ok.text
    assert [i["id"] for i in (await _get(s, "/api/v1/adjustments", sec2))["items"]] == [by_sec1["id"]]
    approved = (await _get(s, "/api/v1/adjustments", evaluator, status="approved"))["items"]
    assert [(i["id"], i["decided_by"]) for i in approved] == [(by_evaluator["id"], "sec-1")]

    appeal = {"period": "2026-Q3", "object_type": "institution", "reason": "党课记录已上传但未计分"}
    a1 = (await s.client.post("/api/v1/appeals", headers=admin1, json={**appeal, "object_id": "q1"})).json()
    a2 = (await s.client.post("/api/v1/appeals", headers=sec1, json={**appeal, "object_id": "q2"})).json()
    assert {(i["id"], i["can_resolve"]) for i in (await _get(s, "/api/v1/appeals", sec2))["items"]} == {
        (a1["id"], True), (a2["id"], True)}
    theirs = (await _get(s, "/api/v1/appeals", admin1))["items"]
    assert [(i["id"], i["can_resolve"], i["object_name"]) for i in theirs] == [(a1["id"], False, "国有银行甲")]
    foreign = await s.client.get("/api/v1/appeals", headers=admin1, params={"institution_id": "q2"})
    assert foreign.status_code == 403 and foreign.json()["error"]["field"] == "institution_id"
    assert (await s.client.get("/api/v1/appeals", headers=branch)).status_code == 403
    resolved = await s.client.post(f"/api/v1/appeals/{a1['id']}/resolution", headers=sec2,
                                   json={"decision": "upheld", "note": "已复核，补计党课"})  # fmt: skip
    assert resolved.status_code == 200, resolved.text
    assert [i["id"] for i in (await _get(s, "/api/v1/appeals", sec2))["items"]] == [a2["id"]]
    assert [i["id"] for i in (await _get(s, "/api/v1/appeals", admin1, status="upheld"))["items"]] == [a1["id"]]

    granted = await s.client.post("/api/v1/exemptions", headers=sec1, json={
        "organization_id": "qb1", "start": "2026-10-01", "end": "2026-10-31", "reason": "支部换届选举"})
    assert granted.status_code == 201, granted.text
    listed = await _get(s, "/api/v1/exemptions", admin1)
    assert [(i["organization_id"], i["object_name"], i["institution_id"]) for i in listed["items"]] == [
        ("qb1", "支部qb1", "q1")]
    assert listed["can_grant"] is False and (await _get(s, "/api/v1/exemptions", sec1))["can_grant"] is True
    admin2 = s.token("institution_admin", institution_id="q2", subject="admin-q2")
    assert (await _get(s, "/api/v1/exemptions", admin2))["items"] == []
    too_big = await s.client.get("/api/v1/exemptions", headers=sec1, params={"page_size": 501})
    assert too_big.status_code == 422 and too_big.json()["error"]["field"] == "page_size"
