"""Plausibility that changes scores: a meeting reported twice (same branch, kind, instant and
attendees) counts once, and attendees who are not on the branch's roll on the meeting's day do not
count toward its attendance."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import yaml
from alliance_evaluation.domain.facts import (
    Branch,
    Classification,
    Institution,
    Meeting,
    PeriodFacts,
    Stint,
)
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.domain.plausibility import duplicate_meetings, on_roll_attendees
from alliance_evaluation.domain.ruleset import RULESET_DIR, Ruleset, load_ruleset
from alliance_evaluation.domain.scoring import score_period
from alliance_shared.testing import at

pytestmark = pytest.mark.unit
Q3 = Period.parse("2026-Q3")
RS = load_ruleset("2026.1")


def meeting(
    event_id: str,
    org: str,
    attendees: tuple[str, ...],
    held: datetime,
    received: datetime | None = None,
    kind: str = "branch_committee_meeting",
) -> Meeting:
    return Meeting(
        event_id, org, kind, held.date(), len(attendees), len(attendees), received or held,
        attendee_ids=attendees, held_at=held,
    )  # fmt: skip


def two_branches() -> PeriodFacts:
    """One institution with B1 (m1, m2) and B2 (m3, m4)."""
    f = PeriodFacts()
    cls = Classification("state_owned", "x", "L2")
    f.institutions["i1"] = Institution("i1", "一号银行", ((date(2020, 1, 1), cls),))
    for b in ("b1", "b2"):
        f.branches[b] = Branch(b, ("i1",), "branch", b, date(2020, 1, 1))
    f.stints += [Stint(m, "b1", date(2025, 1, 1), None) for m in ("m1", "m2")]
    f.stints += [Stint(m, "b2", date(2025, 1, 1), None) for m in ("m3", "m4")]
    return f


def card(f: PeriodFacts, branch: str):  # type: ignore[no-untyped-def]
    return next(c for c in score_period(f, Q3, RS).branches if c.object_id == branch)


def test_a_b2_meeting_attended_only_by_b1s_members_does_not_score_attendance_for_b2():
    f = two_branches()
    f.meetings.append(meeting("mt-1", "b2", ("m1", "m2"), at(2026, 7, 10)))
    org_life = card(f, "b2").indicator("org_life")
    assert dict(org_life.details)["attendance"] == 0
    assert dict(org_life.details)["off_roll_attendees"] == 2


def test_an_attendee_counts_only_while_on_the_roll_on_the_meetings_day():
    stints = [Stint("m1", "b1", date(2025, 1, 1), date(2026, 8, 1)), Stint("m2", "b1", date(2026, 8, 1), None)]
    july = meeting("mt-7", "b1", ("m1", "m2"), at(2026, 7, 10))
    august = meeting("mt-8", "b1", ("m1", "m2"), at(2026, 8, 10))
    assert on_roll_attendees(july, stints) == 1  # m2 joined in August
    assert on_roll_attendees(august, stints) == 1  # m1 left at the end of July
    old = Meeting("mt-old", "b1", "theme_party_day", date(2026, 7, 10), 2, 2, at(2026, 7, 10))
    assert on_roll_attendees(old, stints) == 2  # stored before attendees were kept: its count stands


def test_a_meeting_at_the_same_time_with_the_same_attendees_counts_once_and_is_named():
    first = meeting("mt-a", "b1", ("m1", "m2"), at(2026, 7, 10), received=at(2026, 7, 11))
    again = meeting("mt-b", "b1", ("m2", "m1"), at(2026, 7, 10), received=at(2026, 7, 12))
    later = meeting("mt-c", "b1", ("m1", "m2"), at(2026, 7, 10, hour=3))
    other = meeting("mt-d", "b2", ("m1", "m2"), at(2026, 7, 10))
    fewer = meeting("mt-e", "b1", ("m1",), at(2026, 7, 10))
    combined = meeting("mt-f", "b1", ("m1", "m2"), at(2026, 7, 10), kind="theme_party_day")  # …暨主题党日
    assert duplicate_meetings([again, first, later, other, fewer, combined]) == {"mt-b"}


def test_a_duplicated_meeting_counts_once_toward_attendance_and_is_not_evidence():
    f = two_branches()
    f.meetings += [
        meeting("mt-a", "b1", ("m1", "m2"), at(2026, 7, 10), received=at(2026, 7, 11)),
        meeting("mt-b", "b1", ("m1", "m2"), at(2026, 7, 10), received=at(2026, 7, 12)),
        Meeting("mt-c", "b1", "theme_party_day", date(2026, 7, 20), 0, 2, at(2026, 7, 20), (), at(2026, 7, 20)),
    ]
    org_life = card(f, "b1").indicator("org_life")
    assert dict(org_life.details)["attendance"] == 0.5  # 2 of 4, not 4 of 6
    assert dict(org_life.details)["duplicates"] == ["mt-b"]
    assert "mt-b" not in org_life.evidence and "mt-a" in org_life.evidence


def with_plausibility(**setting: str) -> Ruleset:
    raw = yaml.safe_load((RULESET_DIR / "2026.1.yaml").read_text(encoding="utf-8"))
    raw["plausibility"] = {**raw.get("plausibility", {}), **setting}
    return Ruleset.from_mapping(raw)


def test_the_ruleset_says_what_each_flag_does_to_scoring():
    assert RS.plausibility.off_roll_attendees == "not_counted"
    assert RS.plausibility.duplicate_meeting == "count_once"
    with pytest.raises(ValueError, match="off_roll_attendees"):
        with_plausibility(off_roll_attendees="ignored")


def test_counting_off_roll_attendees_is_a_ruleset_setting_that_changes_the_score():
    f = two_branches()
    f.meetings.append(meeting("mt-1", "b2", ("m1", "m2"), at(2026, 7, 10)))
    strict = card(f, "b2")
    lenient = next(c for c in score_period(f, Q3, with_plausibility(off_roll_attendees="counted")).branches
                   if c.object_id == "b2")  # fmt: skip
    assert dict(strict.indicator("org_life").details)["attendance"] == 0
    assert dict(lenient.indicator("org_life").details)["attendance"] == 1
    assert lenient.score > strict.score


def test_counting_each_duplicate_is_a_ruleset_setting_that_changes_the_score():
    f = two_branches()
    f.meetings += [
        meeting("mt-a", "b1", ("m1", "m2"), at(2026, 7, 10), received=at(2026, 7, 11)),
        meeting("mt-b", "b1", ("m1", "m2"), at(2026, 7, 10), received=at(2026, 7, 12)),
        Meeting("mt-c", "b1", "theme_party_day", date(2026, 7, 20), 0, 2, at(2026, 7, 20), (), at(2026, 7, 20)),
    ]
    once = card(f, "b1")
    each = next(c for c in score_period(f, Q3, with_plausibility(duplicate_meeting="count_each")).branches
                if c.object_id == "b1")  # fmt: skip
    assert dict(each.indicator("org_life").details)["duplicates"] == []
    assert dict(each.indicator("org_life").details)["attendance"] == pytest.approx(2 / 3)
    assert each.score > once.score
