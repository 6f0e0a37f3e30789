"""The open quarter is judged against what is due so far, on a day the test chooses."""

from __future__ import annotations

from datetime import date

import pytest
from alliance_evaluation.domain.facts import (
    Branch,
    Classification,
    DuesPayment,
    Institution,
    Learning,
    Meeting,
    PeriodFacts,
    Stint,
)
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.domain.ruleset import load_ruleset
from alliance_evaluation.domain.scoring import score_period
from alliance_shared.testing import at

pytestmark = pytest.mark.unit
Q4 = Period.parse("2026-Q4")
RS = load_ruleset("2026.1")
MONTHLY = ("branch_committee_meeting", "theme_party_day")


def diligent_branch(months: tuple[int, ...] = (10, 11)) -> PeriodFacts:
    """An L1 branch of two members that met monthly, with full attendance, and paid its dues."""
    f = PeriodFacts()
    cls = Classification("state_owned", "x", "L1")
    f.institutions["i1"] = Institution("i1", "一号银行", ((date(2020, 1, 1), cls),))
    f.branches["b1"] = Branch("b1", ("i1",), "branch", "第一支部", date(2020, 1, 1))
    f.stints += [Stint("m1", "b1", date(2025, 1, 1), None), Stint("m2", "b1", date(2025, 1, 1), None)]
    for month in months:
        for kind in MONTHLY:
            f.meetings.append(Meeting(f"{kind}-{month}", "b1", kind, date(2026, month, 10), 2, 2, at(2026, month, 11)))
        for member in ("m1", "m2"):
            f.dues.append(DuesPayment(f"d-{member}-{month}", member, f"2026-{month:02d}", at(2026, month, 12)))
    return f


def test_a_branch_that_met_in_october_and_november_has_full_org_life_and_nothing_missing_on_1_december():
    card = score_period(diligent_branch(), Q4, RS, today=date(2026, 12, 1)).branches[0]
    assert card.indicator("org_life").value == 1
    assert card.missing == ()
    assert card.completeness == 1 and card.timeliness == 1
    assert "party_lesson" in card.pending and "theme_party_day" in card.pending  # still owed, not yet due
    assert card.org_life_if_unmet is not None and card.org_life_if_unmet < 1  # what the lagging scan chases


def test_the_same_branch_is_missing_decembers_meeting_on_11_january():
    card = score_period(diligent_branch(), Q4, RS, today=date(2027, 1, 11)).branches[0]
    assert "branch_committee_meeting" in card.missing and "theme_party_day" in card.missing
    assert card.indicator("org_life").value < 1
    assert not card.provisional


def test_decembers_meeting_is_not_missing_while_its_grace_runs():
    card = score_period(diligent_branch(), Q4, RS, today=date(2027, 1, 10)).branches[0]  # L1: 10 days
    assert "branch_committee_meeting" not in card.missing


def test_learning_and_dues_count_only_the_days_and_months_elapsed():
    f = diligent_branch(months=(10,))
    f.learning += [Learning(f"l-{d}", "m1", date(2026, 10, d), 5, at(2026, 10, d)) for d in range(1, 11)]
    card = score_period(f, Q4, RS, today=date(2026, 10, 11)).branches[0]
    assert card.member_days == 2 * 10  # 1–10 October, two members
    assert card.indicator("learning").value == pytest.approx(0.5)
    dues = dict(card.indicator("dues").details)
    assert dues["member_months_owed"] == 2  # October paid; November and December not yet due


def test_an_open_quarter_is_provisional_and_says_as_of_when():
    result = score_period(diligent_branch(), Q4, RS, today=date(2026, 12, 1))
    for card in (*result.branches, *result.institutions):
        assert card.provisional
        assert card.as_dict()["standing"] == "截至 12月1日 · 进行中"
    final = score_period(diligent_branch(), Q4, RS, today=date(2027, 1, 1)).institutions[0]
    assert not final.provisional and final.as_dict()["provisional"] is False
