"""A quarter scripted event by event through the real broker and store, every indicator and the
final score worked out by hand; then determinism, a ruleset replay, a late event, and closing."""

from __future__ import annotations

from datetime import date
from fractions import Fraction as F
from typing import Any

import pytest
from alliance_evaluation.domain.rounding import rounded
from alliance_evaluation.usecases import scoring
from alliance_shared.contracts import activity as act
from alliance_shared.contracts import notification as note
from alliance_shared.testing import at

pytestmark = pytest.mark.integration
Q3 = "2026-Q3"


def by_indicator(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["indicator"]: r for r in card["breakdown"]}


# --- the hand computation ---------------------------------------------------------------------
# owed: committee ×3, theme day ×3, general meeting ×1, party lesson ×1 (8 meetings) + dues ×3 = 11
ORG_LIFE = F(7, 10) * F(7, 8) + F(3, 10) * F(12, 14)  # 7 of 8 held; 12 of 14 expected attended
LEARNING = F(5 + 5 + 5 + 4 + 4, 5 * 2 * 92)  # minutes credited (≤5 a member-day) / 5 × member-days
DUES = F(4, 6)  # member-months paid / owed
PUBLIC = F(1, 2) / F(1, 2)  # 1 of 2 members took part, against a 50% target
POLITICAL = F(85, 100)  # one evaluator: good
REPORTING = F(1, 2) * F(10, 11) + F(1, 2) * F(8, 11)  # 10 of 11 reported, 8 on time (L2: 3 days' grace)
BRANCH = 35 * ORG_LIFE + 15 * LEARNING + 10 * DUES + 10 * PUBLIC + 15 * POLITICAL + 15 * REPORTING
# institution (state-owned): branches 80, political 10 (no rating: redistributed), compliance 10, coverage 0
INSTITUTION = (F(80, 90) * BRANCH / 100 + F(10, 90) * F(95, 100)) * 100


async def script_quarter(s: Any) -> None:
    await s.institution("i1", "state_owned", "L2")
    await s.branch("b1", ["i1"])
    await s.member("m1", "b1", "i1")
    await s.member("m2", "b1", "i1")
    both = ["m1", "m2"]
    await s.meeting("b1", "i1", "branch_committee_meeting", at(2026, 7, 10), both, 2, at(2026, 7, 10))
    await s.meeting(
        "b1",
        "i1",
        "branch_committee_meeting",
        at(2026, 8, 10),
        ["m1"],
        2,
        at(2026, 9, 10),
        name="late_committee",
    )  # due 2026-09-03
    for month in (7, 8, 9):
        await s.meeting("b1", "i1", "theme_party_day", at(2026, month, 20), both, 2, at(2026, month, 20))
    await s.meeting("b1", "i1", "branch_general_meeting", at(2026, 9, 5), both, 2, at(2026, 9, 5))
    await s.meeting("b1", "i1", "party_lesson", at(2026, 8, 25), ["m1"], 2, at(2026, 8, 25))
    learning = [("m1", 1, 10), ("m1", 2, 10), ("m1", 3, 30), ("m2", 1, 4), ("m2", 2, 4)]
    for member, day, minutes in learning:
        await s.publish(
            act.LearningCompleted(member_id=member, date=date(2026, 7, day), minutes=minutes),
            institutionid="i1",
            reportinglevel="L2",
            receivedat=at(2026, 7, day),
        )
    for member, month, received in [
        ("m1", "07", at(2026, 7, 15)),
        ("m1", "08", at(2026, 8, 5)),
        ("m1", "09", at(2026, 10, 10)),
        ("m2", "07", at(2026, 7, 15)),
    ]:
        await s.publish(
            act.DuesPaid(member_id=member, month=f"2026-{month}", amount_cny=50),
            institutionid="i1",
            reportinglevel="L2",
            receivedat=received,
        )
    await s.publish(
        act.PublicActivityHeld(
            organization_id="b1", kind="volunteer", held_at=at(2026, 9, 1), participant_ids=["m1"], hours=3
        ),
        institutionid="i1",
        receivedat=at(2026, 9, 1),
    )
    await s.publish(
        act.ComplianceIncidentReported(
            institution_id="i1", severity="minor", occurred_at=at(2026, 8, 1), description="报送延误"
        ),
        institutionid="i1",
        name="incident",
    )
    await s.publish(
        note.DeliveryStatusChanged(
            delivery_id="d-1",
            rule="lagging",
            step="secretary",
            organization_id="b1",
            institution_id="i1",
            channel="sms",
            status="delivered",
            recipient_masked="138****5678",
            at=at(2026, 9, 2),
        )
    )
    await s.settle()
    evaluator = s.token("evaluator", institution_id="i1", subject="ev-1")
    rated = await s.client.post(
        "/api/v1/ratings",
        headers=evaluator,
        json={"period": Q3, "object_type": "branch", "object_id": "b1", "rating": "good", "comment": "认真"},
    )
    assert rated.status_code == 201, rated.text
    await scoring.rescore_dirty(s.ev)


async def test_every_indicator_and_the_final_score_match_the_hand_computation(service):
    s = service
    await script_quarter(s)
    sec = s.token()
    branch = (await s.client.get(f"/api/v1/periods/{Q3}/organizations/b1", headers=sec)).json()
    rows = by_indicator(branch)
    assert rows["org_life"]["value"] == rounded(ORG_LIFE * 100)
    assert rows["learning"]["value"] == rounded(LEARNING * 100)
    assert rows["dues"]["value"] == rounded(DUES * 100)
    assert rows["public_activity"]["value"] == rounded(PUBLIC * 100)
    assert rows["political"]["value"] == rounded(POLITICAL * 100)
    assert rows["reporting"]["value"] == rounded(REPORTING * 100)
    assert rows["reporting"]["details"]["on_time"] == 8
    assert branch["score"] == rounded(BRANCH)
    assert branch["completeness"] == rounded(F(10, 11) * 100) and branch["timeliness"] == rounded(
        F(8, 11) * 100
    )
    assert branch["missing"] == ["branch_committee_meeting"]
    assert s.ids["late_committee"] in rows["org_life"]["evidence"]

    inst = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/i1", headers=sec)).json()
    assert inst["score"] == rounded(INSTITUTION)
    assert inst["grade"] == ("good" if INSTITUTION >= 75 else "pass") and inst["vetoed"] is False
    assert inst["ruleset"] == "2026.1"
    rows = by_indicator(inst)
    assert rows["political"]["weight"] == 0 and "redistributed" in rows["political"]["note"]
    assert rows["compliance"]["evidence"] == [s.ids["incident"]]
    assert [b["id"] for b in inst["branches"]] == ["b1"]

    ranking = (await s.client.get(f"/api/v1/periods/{Q3}/scores?level=institution", headers=sec)).json()
    assert ranking["items"][0] == {**ranking["items"][0], "id": "i1", "score": rounded(INSTITUTION)}
    overview = (await s.client.get(f"/api/v1/overview?period={Q3}", headers=sec)).json()
    assert overview["institutions"] == 1 and overview["by_class"][0]["ownership"] == "state_owned"
    assert overview["coverage"]["members"] == 2 and overview["coverage"]["branches"] == 1


async def test_two_replays_of_the_same_events_are_identical_and_another_ruleset_says_what_moved(service):
    s = service
    sec = s.token()
    first = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/i1?ruleset=2026.1", headers=sec)).json()
    second = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/i1?ruleset=2026.1", headers=sec)).json()
    assert first["digest"] == second["digest"] and first["replay"] == second["replay"]
    assert first["changes"]["indicators"] == [] and first["replay"]["score"] == rounded(INSTITUTION)
    draft = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/i1?ruleset=2026.2", headers=sec)).json()
    assert draft["replay"]["ruleset"] == "2026.2"
    moved = {c["indicator"] for c in draft["changes"]["branches"][0]["indicators"]}
    assert {"org_life", "learning"} <= moved


async def test_a_late_event_rescores_the_open_period_but_not_once_it_is_closed(service):
    s = service
    sec = s.token()
    before = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/i1", headers=sec)).json()
    late = await s.meeting(
        "b1", "i1", "branch_committee_meeting", at(2026, 9, 28), ["m1", "m2"], 2, at(2026, 10, 12), late=True
    )
    await s.settle()
    after = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/i1", headers=sec)).json()
    assert after["score"] > before["score"]
    why = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/i1/changes", headers=sec)).json()
    assert why["from"] == before["computation_id"]
    org_life = next(c for c in why["branches"][0]["indicators"] if c["indicator"] == "org_life")
    assert org_life["events_added"] == [late.id]
    compared = (
        await s.client.get(
            f"/api/v1/periods/{Q3}/institutions/i1?compare={before['computation_id']}", headers=sec
        )
    ).json()
    assert compared["changes"]["score_before"] == before["score"]

    closed = await s.client.post(f"/api/v1/periods/{Q3}/close", headers=sec)
    assert closed.status_code == 200, closed.text
    too_late = await s.publish(
        act.PublicActivityHeld(
            organization_id="b1", kind="charity", held_at=at(2026, 9, 29), participant_ids=["m2"], hours=2
        ),
        institutionid="i1",
        receivedat=at(2026, 10, 13),
        late=True,
    )
    await s.settle()
    frozen = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/i1", headers=sec)).json()
    assert frozen["score"] == after["score"] and frozen["computation_id"] == after["computation_id"]
    period = (await s.client.get(f"/api/v1/periods/{Q3}", headers=sec)).json()
    assert period["status"] == "closed"
    assert [e["event_id"] for e in period["late_events"]] == [too_late.id]
    again = await s.client.post(f"/api/v1/periods/{Q3}/rescore", headers=sec, params={"wait": "true"})
    assert again.status_code == 409 and again.json()["error"]["field"] == "period"


async def test_the_export_is_a_workbook_with_chinese_headers(service):
    import io

    from openpyxl import load_workbook

    answer = await service.client.get(f"/api/v1/exports/{Q3}.xlsx", headers=service.token())
    assert answer.status_code == 200
    wb = load_workbook(io.BytesIO(answer.content))
    assert wb.sheetnames == ["机构得分", "支部得分", "指标明细"]
    assert wb["机构得分"]["C1"].value == "名称 Name" and wb["机构得分"]["B2"].value == "i1"
