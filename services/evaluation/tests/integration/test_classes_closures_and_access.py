"""Reclassification mid-quarter, a branch closed mid-quarter, ratings, adjustments and appeals, and
who may see what: an institution admin sees only their own institution, on every endpoint."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from alliance_evaluation.usecases import scoring
from alliance_shared.contracts import registry as reg
from alliance_shared.testing import at

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def alliance(service: Any) -> Any:
    s = service
    await s.institution("i2", "state_owned", "L1")
    await s.reclassify("i2", "state_owned", "private", date(2026, 8, 15), level="L1")
    await s.institution("i3", "emerging", "L3")
    await s.branch("b2", ["i2"])
    await s.branch("b3", ["i3"])
    await s.branch("bx", ["i2", "i3"], kind="joint_branch")
    await s.member("m21", "b2", "i2")
    await s.member("m31", "b3", "i3", pocket=True)
    await s.member("m32", "bx", "i3")
    for month in (4, 5, 6, 7, 8, 9):
        for kind in ("branch_committee_meeting", "theme_party_day"):
            await s.meeting("b3", "i3", kind, at(2026, month, 3), ["m31"], 1, at(2026, month, 3))
            await s.meeting("b2", "i2", kind, at(2026, month, 3), ["m21"], 1, at(2026, month, 3))
    await s.publish(
        reg.OrganizationClosed(organization_id="b3", institution_id="i3", closed_at=date(2026, 8, 10))
    )
    await s.meeting("b3", "i3", "party_lesson", at(2026, 8, 20), ["m31"], 1, at(2026, 8, 20))  # after closing
    await s.settle()
    for period in ("2026-Q2", "2026-Q3"):
        assert (
            await s.client.post(f"/api/v1/periods/{period}/rescore", headers=s.token(), params={"wait": "true"})
        ).status_code == 200
    return s


async def test_a_reclassification_mid_quarter_scores_each_period_with_the_class_in_force(alliance):
    s = alliance
    q2 = (await s.client.get("/api/v1/periods/2026-Q2/institutions/i2", headers=s.token())).json()
    q3 = (await s.client.get("/api/v1/periods/2026-Q3/institutions/i2", headers=s.token())).json()
    assert q2["ownership"] == "state_owned" and q3["ownership"] == "private"
    weights_q2 = {r["indicator"]: r["base_weight"] for r in q2["breakdown"]}
    weights_q3 = {r["indicator"]: r["base_weight"] for r in q3["breakdown"]}
    assert weights_q2["branches"] == 80 and weights_q3["branches"] == 65 and weights_q3["coverage"] == 15
    private = (
        await s.client.get("/api/v1/periods/2026-Q3/scores?ownership=private", headers=s.token())
    ).json()
    assert [i["id"] for i in private["items"]] == ["i2"]


async def test_a_branch_closed_mid_quarter_is_never_above_full_completeness(alliance):
    s = alliance
    b3 = (await s.client.get("/api/v1/periods/2026-Q3/organizations/b3", headers=s.token())).json()
    reporting = next(r for r in b3["breakdown"] if r["indicator"] == "reporting")
    assert reporting["details"]["owed"] == 3  # July only: committee, theme day, dues
    assert (
        b3["completeness"] == round(100 * 2 / 3, 2) and b3["completeness"] <= 100 and b3["timeliness"] <= 100
    )
    i3 = (await s.client.get("/api/v1/periods/2026-Q3/institutions/i3", headers=s.token())).json()
    coverage = next(r for r in i3["breakdown"] if r["indicator"] == "coverage")
    assert coverage["details"]["covering_branches"] == ["bx"]  # b3 closed before the quarter's end
    assert {b["id"] for b in i3["branches"]} == {"b3", "bx"}


async def test_an_adjustment_needs_a_second_person_and_an_appeal_is_resolved_by_the_secretariat(alliance):
    s = alliance
    first, second = s.token(subject="sec-1"), s.token(subject="sec-2")
    proposed = await s.client.post(
        "/api/v1/adjustments",
        headers=first,
        json={
            "period": "2026-Q3",
            "object_type": "institution",
            "object_id": "i2",
            "points": "5",
            "reason": "抗洪志愿服务",
        },
    )
    assert proposed.status_code == 201
    adj = proposed.json()["id"]
    own = await s.client.post(
        f"/api/v1/adjustments/{adj}/decision", headers=first, json={"decision": "approved"}
    )
    assert own.status_code == 403 and own.json()["error"]["field"] == "approved_by"
    before = (await s.client.get("/api/v1/periods/2026-Q3/institutions/i2", headers=first)).json()["score"]
    ok = await s.client.post(
        f"/api/v1/adjustments/{adj}/decision", headers=second, json={"decision": "approved"}
    )
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    await scoring.rescore_dirty(s.ev)
    after = (await s.client.get("/api/v1/periods/2026-Q3/institutions/i2", headers=first)).json()
    assert after["score"] == min(100, round(before + 5, 2))
    assert any(r["indicator"] == "adjustment" and r["evidence"] == [adj] for r in after["breakdown"])
    admin = s.token("institution_admin", institution_id="i2", subject="adm-2")
    appeal = await s.client.post(
        "/api/v1/appeals",
        headers=admin,
        json={"period": "2026-Q3", "object_type": "institution", "object_id": "i2", "reason": "党课记录漏报"},
    )
    assert appeal.status_code == 201
    foreign = await s.client.post(
        "/api/v1/appeals",
        headers=admin,
        json={"period": "2026-Q3", "object_type": "institution", "object_id": "i3", "reason": "不是我的机构"},
    )
    assert foreign.status_code == 403
    resolved = await s.client.post(
        f"/api/v1/appeals/{appeal.json()['id']}/resolution",
        headers=first,
        json={"decision": "dismissed", "note": "记录无误"},
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "dismissed"


async def test_an_evaluator_may_rate_only_the_objects_assigned_to_them(alliance):
    s = alliance
    evaluator = s.token("evaluator", institution_id="i2", subject="ev-2")
    ok = await s.client.post(
        "/api/v1/ratings",
        headers=evaluator,
        json={"period": "2026-Q3", "object_type": "institution", "object_id": "i2", "rating": "excellent"},
    )
    assert ok.status_code == 201
    other = await s.client.post(
        "/api/v1/ratings",
        headers=evaluator,
        json={"period": "2026-Q3", "object_type": "institution", "object_id": "i3", "rating": "poor"},
    )
    assert other.status_code == 403
    bad = await s.client.post(
        "/api/v1/ratings",
        headers=evaluator,
        json={"period": "2026-Q3", "object_type": "institution", "object_id": "i2", "rating": "superb"},
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "rating"


FOREIGN = [  # an admin of i2 asking for i3's data
    ("GET", "/api/v1/periods/2026-Q3/institutions/i3"),
    ("GET", "/api/v1/periods/2026-Q3/institutions/i3/changes"),
    ("GET", "/api/v1/periods/2026-Q3/institutions/i3?ruleset=2026.2"),
    ("GET", "/api/v1/periods/2026-Q3/organizations/b3"),
    ("GET", "/api/v1/periods/2026-Q3/scores?institution_id=i3"),
    ("GET", "/api/v1/lagging?institution_id=i3"),
    ("GET", "/api/v1/exports/2026-Q3.xlsx?institution_id=i3"),
    ("GET", "/api/v1/overview?period=2026-Q3"),
    ("GET", "/api/v1/periods/2026-Q3"),
    ("POST", "/api/v1/scans/lagging"),
    ("POST", "/api/v1/periods/2026-Q2/close"),
    ("POST", "/api/v1/periods/2026-Q3/rescore"),
]


async def test_an_institution_admin_gets_403_for_another_institution_on_every_endpoint(alliance):
    s = alliance
    admin = s.token("institution_admin", institution_id="i2", subject="adm-2")
    for method, path in FOREIGN:
        answer = await s.client.request(method, path, headers=admin)
        assert answer.status_code == 403, (method, path, answer.status_code)
        assert "error" in answer.json()
        assert (await s.client.request(method, path)).status_code == 401, path
    own = (await s.client.get("/api/v1/periods/2026-Q3/scores?level=branch", headers=admin)).json()
    assert {i["id"] for i in own["items"]} == {"b2", "bx"}  # its own branch and the joint one it shares
    assert (await s.client.get("/api/v1/periods/2026-Q3/institutions/i2", headers=admin)).status_code == 200
    assert (await s.client.get("/api/v1/periods/2026-Q3/organizations/bx", headers=admin)).status_code == 200


async def test_bad_input_gets_a_clear_422_naming_the_field(alliance):
    s = alliance
    answer = await s.client.get("/api/v1/periods/2026-Q5/scores", headers=s.token())
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "period"
    answer = await s.client.get("/api/v1/periods/2026-Q3/institutions/i2?ruleset=1999.9", headers=s.token())
    assert answer.status_code == 404 and answer.json()["error"]["field"] == "ruleset"


async def test_a_correction_replaces_the_event_it_supersedes_even_when_it_arrives_first(alliance):
    s = alliance
    correction_id = "fix-1"
    original = await s.meeting(
        "b2", "i2", "party_lesson", at(2026, 9, 8), [], 1, at(2026, 9, 8), name="original"
    )
    await s.meeting(
        "b2", "i2", "party_lesson", at(2026, 9, 8), ["m21"], 1, at(2026, 9, 9), supersedes=original.id
    )
    # and the other way round: a correction that overtakes the event it corrects
    from alliance_shared.contracts import activity as act
    from alliance_shared.contracts.catalog import envelope

    fixed = act.MeetingHeld(
        organization_id="b2",
        meeting_kind="branch_general_meeting",
        held_at=at(2026, 9, 9),
        attendee_ids=["m21"],
        expected_count=1,
    )
    first = envelope(
        fixed, source="/tests", institutionid="i2", receivedat=at(2026, 9, 10), supersedes=correction_id
    )
    wrong = envelope(fixed, source="/tests", institutionid="i2", receivedat=at(2026, 9, 9)).model_copy(
        update={"id": correction_id}
    )
    for event in (first, wrong):
        await s.publisher.publish(fixed.kafka_topic, event, "b2")
        s.published += 1
    await s.settle()
    b2 = (await s.client.get("/api/v1/periods/2026-Q3/organizations/b2", headers=s.token())).json()
    evidence = next(r for r in b2["breakdown"] if r["indicator"] == "org_life")["evidence"]
    assert original.id not in evidence and correction_id not in evidence
    assert first.id in evidence
    assert next(r for r in b2["breakdown"] if r["indicator"] == "org_life")["details"]["attendance"] == 1
