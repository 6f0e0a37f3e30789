"""The obligation calendar (opening, closing, exemptions, grace by reporting level) and the ruleset file."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction

import pytest
from alliance_evaluation.domain.calendar import Delivery, ObligationCalendar
from alliance_evaluation.domain.errors import InvalidPeriod, UnknownRuleset
from alliance_evaluation.domain.facts import Branch, Exemption
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.domain.ruleset import available_versions, load_ruleset

pytestmark = pytest.mark.unit
Q3 = Period.parse("2026-Q3")
RS = load_ruleset("2026.1")
OLD = Branch("b1", ("i1",), "branch", "支部", date(2020, 1, 1))


def received(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 2, tzinfo=UTC)


def test_a_branch_owes_each_monthly_kind_every_month_and_each_quarterly_kind_once():
    owed = ObligationCalendar(OLD, Q3, RS, "L2").obligations
    kinds = sorted({(o.kind, sum(1 for x in owed if x.kind == o.kind)) for o in owed})
    assert kinds == [
        ("branch_committee_meeting", 3),
        ("branch_general_meeting", 1),
        ("dues", 3),
        ("party_lesson", 1),
        ("theme_party_day", 3),
    ]


def test_branches_with_party_groups_also_owe_monthly_group_meetings():
    with_groups = Branch("b1", ("i1",), "branch", "支部", date(2020, 1, 1), has_party_groups=True)
    owed = ObligationCalendar(with_groups, Q3, RS, "L2").obligations
    assert sum(1 for o in owed if o.kind == "party_group_meeting") == 3


def test_a_branch_opened_late_in_a_month_does_not_owe_that_month():
    late = Branch("b1", ("i1",), "branch", "支部", date(2026, 7, 20))
    months = {
        o.window.start.month
        for o in ObligationCalendar(late, Q3, RS, "L2").obligations
        if o.kind == "theme_party_day"
    }
    assert months == {8, 9}


def test_an_exemption_removes_the_windows_it_covers():
    ex = [Exemption("b1", "theme_party_day", date(2026, 8, 1), date(2026, 8, 31))]
    owed = ObligationCalendar(OLD, Q3, RS, "L2", ex).obligations
    assert {o.window.start.month for o in owed if o.kind == "theme_party_day"} == {7, 9}


def test_grace_depends_on_the_reporting_level():
    deliveries = [Delivery("theme_party_day", date(2026, 7, 20), received(2026, 8, 5), "e1")]
    l1 = ObligationCalendar(OLD, Q3, RS, "L1").settle(deliveries)
    l3 = ObligationCalendar(OLD, Q3, RS, "L3").settle(deliveries)
    july = lambda outcomes: next(o for o in outcomes if o.obligation.kind == "theme_party_day")  # noqa: E731
    assert july(l1).on_time and not july(l3).on_time  # L1: 10 days' grace, L3: 1 day
    assert july(l1).fulfilled_by == july(l3).fulfilled_by == "e1"


def test_two_reports_for_one_window_fulfil_it_once():
    deliveries = [
        Delivery("theme_party_day", date(2026, 7, d), received(2026, 7, d), f"e{d}") for d in (3, 9)
    ]
    outcomes = ObligationCalendar(OLD, Q3, RS, "L2").settle(deliveries)
    assert sum(1 for o in outcomes if o.fulfilled_by) == 1


def test_the_ruleset_is_versioned_data_with_exact_numbers():
    assert {"2026.1", "2026.2"} <= set(available_versions())
    assert RS.org_life_frequency + RS.org_life_attendance == 1
    assert RS.grade_of(Fraction(90)) == "excellent" and RS.grade_of(Fraction(8999, 100)) == "good"
    assert RS.grade_of(Fraction(60)) == "pass" and RS.grade_of(Fraction(5999, 100)) == "fail"
    assert RS.grade_of(Fraction(99), vetoed=True) == "fail"
    with pytest.raises(UnknownRuleset):
        load_ruleset("1999.1")
    with pytest.raises(InvalidPeriod):
        Period.parse("2026-Q5")
