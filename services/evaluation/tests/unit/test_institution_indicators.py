"""The institution's answer carries its indicators: organisational life, learning, dues, public
activity, political evaluation and reporting discipline aggregated over its branches by member-days
(as the ruleset weighs the branches' scores), then its own political evaluation, compliance and
coverage — each with value, requirement, points and evidence. Its score does not change: the parts
add up to it."""

from __future__ import annotations

from datetime import date

import pytest
from alliance_evaluation.domain.facts import (
    Adjustment,
    Branch,
    Classification,
    DuesPayment,
    Incident,
    Institution,
    Learning,
    Meeting,
    PeriodFacts,
    PublicActivity,
    Stint,
)
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.domain.ruleset import load_ruleset
from alliance_evaluation.domain.scoring import score_period
from alliance_shared.testing import at

pytestmark = pytest.mark.unit
Q3 = Period.parse("2026-Q3")
RS = load_ruleset("2026.1")
KINDS = ["org_life", "learning", "dues", "public_activity", "political", "reporting", "political", "compliance",
         "coverage"]  # fmt: skip


def facts() -> PeriodFacts:
    """Branch b1 (two members, all learning every day) and b2 (one member, none): learning is 2/3
    by member-days, not the 1/2 of a plain mean of the branches."""
    f = PeriodFacts()
    f.institutions["i1"] = Institution("i1", "一号银行", ((date(2020, 1, 1), Classification("private", "x", "L2")),))
    for b in ("b1", "b2"):
        f.branches[b] = Branch(b, ("i1",), "branch", f"{b}支部", date(2020, 1, 1))
    f.stints += [Stint("m1", "b1", date(2025, 1, 1), None), Stint("m2", "b1", date(2025, 1, 1), None),
                 Stint("m3", "b2", date(2025, 1, 1), None, pocket=True)]  # fmt: skip
    for month in (7, 8, 9):
        for b, members in (("b1", 2), ("b2", 1)):
            for n, kind in enumerate(["branch_committee_meeting", "theme_party_day"]):
                f.meetings.append(Meeting(f"{b}-{month}-{n}", b, kind, date(2026, month, 10), members, members,
                                          at(2026, month, 11)))  # fmt: skip
        for m in ("m1", "m2", "m3"):
            f.dues.append(DuesPayment(f"d-{m}-{month}", m, f"2026-{month:02d}", at(2026, month, 12)))
    day = date(2026, 7, 1)
    while day <= Q3.end:
        for m in ("m1", "m2"):
            f.learning.append(Learning(f"l-{m}-{day}", m, day, 30, at(day.year, day.month, day.day)))
        day = date.fromordinal(day.toordinal() + 1)
    f.public_activities.append(PublicActivity("pa-1", "b1", date(2026, 8, 1), ("m1",), at(2026, 8, 1)))
    f.incidents.append(Incident("inc-1", "i1", "minor", date(2026, 8, 3)))
    return f


def answer(f: PeriodFacts) -> tuple[dict, object]:
    card = score_period(f, Q3, RS).institutions[0]
    return card.as_dict(), card


def test_the_institution_lists_every_indicator_with_value_requirement_points_and_evidence():
    doc, _ = answer(facts())
    lines = doc["indicators"]
    assert [line["indicator"] for line in lines] == KINDS
    assert [line["scope"] for line in lines] == ["branches"] * 6 + ["institution"] * 3
    by = {(line["scope"], line["indicator"]): line for line in lines}
    learning = by[("branches", "learning")]
    assert learning["value"] == 66.67  # member-days: b1 has two of the three members
    assert learning["evidence_count"] == 2 * 92 and len(learning["evidence"]) == 50  # ids, and how many
    assert {b["organization_id"]: b["evidence_count"] for b in learning["branches"]} == {"b1": 184, "b2": 0}
    assert "每名党员每天" in learning["requirement"]
    org_life = by[("branches", "org_life")]
    assert org_life["evidence_count"] == 12 and "b1-7-0" in org_life["evidence"]
    assert by[("branches", "dues")]["value"] == 100.0 and by[("branches", "dues")]["evidence_count"] == 9
    assert by[("branches", "public_activity")]["evidence"] == ["pa-1"]
    assert by[("institution", "compliance")]["evidence"] == ["inc-1"]
    assert by[("branches", "political")]["value"] is None  # nobody rated: not applicable
    assert by[("institution", "coverage")]["value"] is not None


def test_the_parts_add_up_to_the_institutions_score_which_does_not_change():
    doc, _ = answer(facts())
    assert abs(sum(line["points"] for line in doc["indicators"]) - doc["score"]) < 0.01 * len(doc["indicators"])
    branches = next(r for r in doc["breakdown"] if r["indicator"] == "branches")
    part = sum(line["points"] for line in doc["indicators"] if line["scope"] == "branches")
    assert abs(part - branches["points"]) < 0.01 * 6


def test_a_branch_adjustment_is_a_part_of_its_own_so_the_parts_still_add_up():
    f = facts()
    f.adjustments.append(Adjustment("adj-1", "branch", "b2", "10", "补录"))
    doc, _ = answer(f)
    extra = [line for line in doc["indicators"] if line["indicator"] == "branch_adjustment"]
    assert extra and extra[0]["points"] > 0 and extra[0]["evidence"] == ["adj-1"]
    assert abs(sum(line["points"] for line in doc["indicators"]) - doc["score"]) < 0.1
