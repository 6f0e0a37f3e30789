"""An institution, and its branches and members, are evaluated only for the part of a period in which
the institution belonged to the alliance."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alliance_evaluation.domain.facts import (
    Branch,
    Classification,
    DuesPayment,
    Institution,
    Meeting,
    PeriodFacts,
    Stint,
)
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.domain.ruleset import load_ruleset
from alliance_evaluation.domain.scoring import score_period
from alliance_shared.testing import at

pytestmark = pytest.mark.unit
RS = load_ruleset("2026.1")
JOINED = date(2026, 12, 1)
EMERGING = Classification("emerging", "x", "L1")


def newcomer() -> PeriodFacts:
    """An institution classified from 1 December, whose branch was registered long before."""
    f = PeriodFacts()
    f.institutions["old"] = Institution("old", "老银行", ((date(2020, 1, 1), EMERGING),))
    f.institutions["new"] = Institution("new", "新银行", ((JOINED, EMERGING),))
    f.branches["b-old"] = Branch("b-old", ("old",), "branch", "老支部", date(2020, 1, 1))
    f.branches["b-new"] = Branch("b-new", ("new",), "branch", "新支部", date(2020, 1, 1))
    f.stints += [Stint("m1", "b-new", date(2025, 1, 1), None), Stint("m2", "b-new", date(2025, 1, 1), None)]
    for kind in ("branch_committee_meeting", "theme_party_day"):
        f.meetings.append(Meeting(f"{kind}-12", "b-new", kind, date(2026, 12, 5), 2, 2, at(2026, 12, 6)))
    return f


def test_the_classification_has_no_value_before_the_institution_joined():
    inst = newcomer().institutions["new"]
    assert inst.as_of(date(2026, 9, 30)) is None
    assert inst.as_of(JOINED) == EMERGING


def test_an_institution_that_joined_on_1_december_is_not_in_q3_at_all():
    result = score_period(newcomer(), Period.parse("2026-Q3"), RS)
    assert [c.object_id for c in result.institutions] == ["old"]
    assert [c.object_id for c in result.branches] == ["b-old"]


def test_an_institution_that_joined_on_1_december_is_pro_rated_in_q4():
    result = score_period(newcomer(), Period.parse("2026-Q4"), RS, today=date(2027, 1, 20))
    branch = next(c for c in result.branches if c.object_id == "b-new")
    assert branch.member_days == 2 * 31  # December only
    owed = dict(branch.indicator("reporting").details)["owed"]
    assert owed == 3  # December's committee meeting, theme day and dues; not October's or November's
    assert branch.missing == ("dues",)
    assert branch.indicator("org_life").value == 1


def test_an_institution_not_yet_joined_on_the_day_judged_is_left_out_of_the_open_quarter():
    result = score_period(newcomer(), Period.parse("2026-Q4"), RS, today=date(2026, 11, 20))
    assert [c.object_id for c in result.institutions] == ["old"]


def test_dues_for_a_month_before_the_branch_opened_do_not_fulfil_the_month_it_opened():
    """A branch opened on 10 December: November's dues are not December's (it owes December's)."""
    f = PeriodFacts()
    cls = Classification("state_owned", "x", "L1")
    f.institutions["i1"] = Institution("i1", "一号银行", ((date(2020, 1, 1), cls),))
    f.branches["b1"] = Branch("b1", ("i1",), "branch", "新支部", date(2026, 12, 10))
    f.stints.append(Stint("m1", "b1", date(2025, 1, 1), None))
    f.dues.append(DuesPayment("d-nov", "m1", "2026-11", datetime(2026, 11, 12, 4, tzinfo=UTC)))
    q4 = Period.parse("2026-Q4")
    card = score_period(f, q4, RS, today=date(2027, 1, 15)).branches[0]
    assert "dues" in card.missing
    assert "d-nov" not in card.indicator("reporting").evidence
    paid = PeriodFacts(f.institutions, f.branches, f.stints)
    paid.dues.append(DuesPayment("d-dec", "m1", "2026-12", datetime(2026, 12, 12, 4, tzinfo=UTC)))
    on_time = score_period(paid, q4, RS, today=date(2027, 1, 15)).branches[0]
    assert "dues" not in on_time.missing and "d-dec" in on_time.indicator("reporting").evidence
