"""Scoring as a pure function: a small quarter computed by hand, redistribution, veto, determinism."""

from __future__ import annotations

import random
from datetime import date
from fractions import Fraction as F

import pytest
from alliance_evaluation.domain.facts import (
    Branch,
    Classification,
    DuesPayment,
    Incident,
    Institution,
    Meeting,
    PeriodFacts,
    Rating,
    Stint,
)
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.domain.rounding import rounded
from alliance_evaluation.domain.ruleset import load_ruleset
from alliance_evaluation.domain.scoring import score_period
from alliance_shared.testing import at

pytestmark = pytest.mark.unit
Q3 = Period.parse("2026-Q3")
RS = load_ruleset("2026.1")


def facts(ownership: str = "state_owned", closed: date | None = None) -> PeriodFacts:
    f = PeriodFacts()
    f.institutions["i1"] = Institution(
        "i1", "一号银行", ((date(2020, 1, 1), Classification(ownership, "x", "L2")),)
    )
    f.branches["b1"] = Branch("b1", ("i1",), "branch", "第一支部", date(2020, 1, 1), closed)
    f.stints += [Stint("m1", "b1", date(2025, 1, 1), None), Stint("m2", "b1", date(2025, 1, 1), None)]
    kinds = ["branch_committee_meeting", "theme_party_day"]
    for month in (7, 8, 9):
        for n, kind in enumerate(kinds):
            f.meetings.append(
                Meeting(f"mt-{month}-{n}", "b1", kind, date(2026, month, 10), 2, 2, at(2026, month, 11))
            )
        f.dues.append(DuesPayment(f"d-{month}", "m1", f"2026-{month:02d}", at(2026, month, 12)))
    f.meetings.append(
        Meeting("mt-gm", "b1", "branch_general_meeting", date(2026, 9, 1), 1, 2, at(2026, 9, 1))
    )
    return f


def test_a_branch_without_a_rating_gets_its_political_weight_redistributed_and_says_so():
    card = score_period(facts(), Q3, RS).branches[0]
    political = card.indicator("political")
    assert political is not None and political.value is None and political.weight == 0
    assert "redistributed" in political.note
    # org life: 7 of 8 owed meetings (party lesson missing); attendance 13/14
    org_life = F(7, 10) * F(7, 8) + F(3, 10) * F(13, 14)
    # learning 0; dues 3 of 6 member-months; no public activity (0); reporting: 10 of 11 owed, all on time
    dues, reporting = F(3, 6), F(1, 2) * F(10, 11) + F(1, 2) * F(10, 11)
    total_w = 35 + 15 + 10 + 10 + 15  # political (15) left out
    expected = (35 * org_life + 15 * 0 + 10 * dues + 10 * 0 + 15 * reporting) * 100 / total_w
    assert card.score == expected
    assert card.as_dict()["score"] == rounded(expected)
    assert card.missing == ("party_lesson",)


def test_a_severe_incident_vetoes_the_institution_whatever_its_score():
    f = facts()
    f.incidents.append(Incident("inc-1", "i1", "severe", date(2026, 8, 1)))
    inst = score_period(f, Q3, RS).institutions[0]
    assert inst.vetoed and inst.grade == "fail"


def test_ratings_count_and_a_minor_incident_deducts_five_points():
    f = facts()
    f.ratings.append(Rating("r1", "branch", "b1", "ev1", "excellent"))
    f.incidents.append(Incident("inc-1", "i1", "minor", date(2026, 8, 1)))
    result = score_period(f, Q3, RS)
    assert result.branches[0].indicator("political").value == 1
    compliance = result.institutions[0].indicator("compliance")
    assert compliance.value == F(95, 100) and compliance.evidence == ("inc-1",)


def test_same_facts_in_any_order_give_identical_cards():
    a = facts()
    b = facts()
    random.Random(7).shuffle(b.meetings)
    random.Random(8).shuffle(b.dues)
    assert (
        score_period(a, Q3, RS).institutions[0].digest() == score_period(b, Q3, RS).institutions[0].digest()
    )


def test_a_branch_closed_mid_quarter_never_exceeds_full_completeness():
    f = facts(closed=date(2026, 8, 10))  # open 9 of 31 August days: August no longer owed
    card = score_period(f, Q3, RS).branches[0]
    assert card.completeness is not None and card.completeness <= 1
    assert card.timeliness is not None and card.timeliness <= 1
    owed = dict(card.indicator("reporting").details)["owed"]
    assert owed == 3  # July: committee, theme day, dues; the quarterly ones need half the quarter open


def test_the_class_in_force_at_the_period_end_chooses_the_weights():
    f = facts()
    f.institutions["i1"] = Institution(
        "i1",
        "一号银行",
        (
            (date(2020, 1, 1), Classification("state_owned", "x", "L2")),
            (date(2026, 8, 15), Classification("private", "x", "L2")),
        ),
    )
    assert score_period(f, Period.parse("2026-Q2"), RS).institutions[0].ownership == "state_owned"
    assert score_period(f, Q3, RS).institutions[0].ownership == "private"


def test_an_institution_without_any_branch_scores_nothing_for_branches_and_is_not_excellent():
    f = facts()
    f.institutions["i2"] = Institution("i2", "新设公司", ((date(2020, 1, 1), Classification("emerging", "x", "L1")),))
    card = next(c for c in score_period(f, Q3, RS).institutions if c.object_id == "i2")
    branches = card.indicator("branches")
    assert branches is not None and branches.value == 0 and branches.weight > 0
    assert card.grade != "excellent" and card.score < 60


def test_the_overview_counts_a_joint_branch_and_its_members_once_for_all_the_institutions_it_covers():
    from alliance_evaluation.adapters import ranks
    from alliance_evaluation.adapters.views import build_overview

    f = facts()
    f.institutions["i2"] = Institution("i2", "二号科技", ((date(2020, 1, 1), Classification("emerging", "x", "L1")),))
    f.institutions["i3"] = Institution("i3", "三号保理", ((date(2020, 1, 1), Classification("emerging", "x", "L1")),))
    f.branches["j1"] = Branch("j1", ("i2", "i3"), "joint_branch", "联合支部", date(2020, 1, 1), None)
    f.stints += [
        Stint("m3", "j1", date(2025, 1, 1), None),
        Stint("m4", "j1", date(2025, 1, 1), None, pocket=True),
        Stint("m5", "j1", date(2025, 1, 1), None, pocket=True),
    ]
    result = score_period(f, Q3, RS)
    cards = {c.object_id: c for c in result.institutions}
    assert (cards["i2"].members, cards["i3"].members) == (3, 3)  # each institution's own coverage has them
    assert cards["i3"].pocket_members == 2

    def doc(card):
        return card.as_dict() | {"institution_ids": [card.institution_id]}

    documents = ranks.institution_documents(
        "2026-Q3",
        [doc(c) for c in result.institutions],
        [doc(b) | {"kind": f.branches[b.object_id].kind, "name": "x"} for b in result.branches],
        {},
    )
    coverage = build_overview("2026-Q3", documents, {}, at(2026, 10, 1))["coverage"]
    assert coverage == {"branches": 1, "joint_branches": 1, "members": 5, "pocket_members": 2}
    assert sum(c.members for c in result.institutions) == 8  # what summing the institutions said


def test_an_affiliated_branch_is_scored_like_a_branch_and_counts_in_its_institution():
    plain = score_period(facts(), Q3, RS)
    f = facts()
    f.branches["b1"] = Branch("b1", ("i1",), "affiliated_branch", "挂靠党支部", date(2020, 1, 1))
    affiliated = score_period(f, Q3, RS)
    assert [b.object_id for b in affiliated.branches] == ["b1"]
    assert affiliated.branches[0].score == plain.branches[0].score
    assert affiliated.institutions[0].score == plain.institutions[0].score
