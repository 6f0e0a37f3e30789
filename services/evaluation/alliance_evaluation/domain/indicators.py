"""The branch indicators, each a pure function of the period's facts: value in [0, 1] (None when the
indicator does not apply), the requirement it is measured against, and the events behind it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from alliance_shared.contracts.vocabulary import zh

from .calendar import Delivery, ObligationCalendar, ObligationOutcome
from .facts import (
    Adjustment,
    Branch,
    DuesPayment,
    Exemption,
    Incident,
    Learning,
    Meeting,
    PeriodFacts,
    PublicActivity,
    Rating,
    Stint,
)
from .periods import Period, Window, month_window
from .plausibility import duplicate_meetings, on_roll_attendees
from .results import IndicatorResult
from .ruleset import Ruleset

ONE = Fraction(1)


@dataclass
class PeriodIndex:
    """The period's facts grouped once, so scoring 10,000 branches stays linear.

    `today` is the day the period is judged on (None: after it, everything due): `elapsed` is the
    part of the period gone by before it (what learning counts), `as_of` the day whose roll counts."""

    period: Period
    today: date | None = None
    stints_by_org: dict[str, list[Stint]] = field(default_factory=lambda: defaultdict(list))
    meetings_by_org: dict[str, list[Meeting]] = field(default_factory=lambda: defaultdict(list))
    learning_by_member: dict[str, list[Learning]] = field(default_factory=lambda: defaultdict(list))
    dues_by_member: dict[str, list[DuesPayment]] = field(default_factory=lambda: defaultdict(list))
    public_by_org: dict[str, list[PublicActivity]] = field(default_factory=lambda: defaultdict(list))
    ratings_by_object: dict[tuple[str, str], list[Rating]] = field(default_factory=lambda: defaultdict(list))
    branches_by_institution: dict[str, list[Branch]] = field(default_factory=lambda: defaultdict(list))
    incidents_by_institution: dict[str, list[Incident]] = field(default_factory=lambda: defaultdict(list))
    adjustments_by_object: dict[tuple[str, str], list[Adjustment]] = field(
        default_factory=lambda: defaultdict(list)
    )
    exemptions_by_org: dict[str, list[Exemption]] = field(default_factory=lambda: defaultdict(list))
    duplicates: set[str] = field(default_factory=set)  # meetings that repeat one reported before

    @property
    def provisional(self) -> bool:
        return self.today is not None and self.today <= self.period.end

    @property
    def elapsed(self) -> Window:
        if not self.provisional:
            return self.period.window
        assert self.today is not None
        return Window(self.period.start, max(self.period.start, self.today) - timedelta(days=1))

    @property
    def as_of(self) -> date:
        if not self.provisional:
            return self.period.end
        assert self.today is not None
        return max(self.period.start, self.today)

    @classmethod
    def build(cls, facts: PeriodFacts, period: Period, today: date | None = None) -> PeriodIndex:
        idx = cls(period, today)
        win = period.window
        # sorted inputs: arrival order never changes a result
        for s in sorted(facts.stints, key=lambda s: (s.organization_id, s.member_id, s.start)):
            if win.overlap_days(s.start, s.end):
                idx.stints_by_org[s.organization_id].append(s)
        for m in sorted(facts.meetings, key=lambda m: (m.held_on, m.event_id)):
            if win.contains(m.held_on):
                idx.meetings_by_org[m.organization_id].append(m)
        idx.duplicates = duplicate_meetings(m for ms in idx.meetings_by_org.values() for m in ms)
        for le in sorted(facts.learning, key=lambda x: (x.day, x.event_id)):
            if win.contains(le.day):
                idx.learning_by_member[le.member_id].append(le)
        for d in sorted(facts.dues, key=lambda x: (x.month, x.event_id)):
            if win.contains(month_window(d.month).start):
                idx.dues_by_member[d.member_id].append(d)
        for p in sorted(facts.public_activities, key=lambda x: (x.held_on, x.event_id)):
            if win.contains(p.held_on):
                idx.public_by_org[p.organization_id].append(p)
        for r in sorted(facts.ratings, key=lambda x: (x.evaluator, x.rating_id)):
            idx.ratings_by_object[(r.object_type, r.object_id)].append(r)
        for b in sorted(facts.branches.values(), key=lambda b: b.id):
            for inst in b.institution_ids:
                idx.branches_by_institution[inst].append(b)
        for i in sorted(facts.incidents, key=lambda x: x.event_id):
            if win.contains(i.occurred_on):
                idx.incidents_by_institution[i.institution_id].append(i)
        for a in sorted(facts.adjustments, key=lambda x: x.adjustment_id):
            idx.adjustments_by_object[(a.object_type, a.object_id)].append(a)
        for e in sorted(facts.exemptions, key=lambda x: (x.start, x.end, x.kind or "")):
            idx.exemptions_by_org[e.organization_id].append(e)
        return idx


def _open_span(branch: Branch, window: Window, stint: Stint) -> tuple[date, date | None]:
    start = max(stint.start, branch.opened)
    ends = [e for e in (stint.end, branch.closed) if e is not None]
    return start, (min(ends) if ends else None)


def member_days(branch: Branch, idx: PeriodIndex) -> int:
    """Days each party member was on the branch's open roll, in the part of the period elapsed."""
    win = idx.elapsed
    return sum(
        win.overlap_days(*_open_span(branch, win, s))
        for s in idx.stints_by_org.get(branch.id, ())
        if s.party_member
    )


def org_life_requirement(branch: Branch, rs: Ruleset) -> str:
    """The meetings the branch owes, by their GLOSSARY names (党小组会 only where it has groups)."""
    owed = [r for r in rs.meetings if branch.has_party_groups or not r.only_with_party_groups]
    chinese = "；".join(f"{zh(r.kind)}{'每月' if r.cadence == 'monthly' else '每季度'}≥1" for r in owed)
    en = "; ".join(f"{r.kind.replace('_', ' ')} {r.cadence} ≥1" for r in owed)
    return f"{chinese}，并计出席率 / {en}, and attendance"


def org_life(
    branch: Branch, idx: PeriodIndex, rs: Ruleset, outcomes: list[ObligationOutcome]
) -> IndicatorResult:
    meeting_kinds = {r.kind for r in rs.meetings}
    owed = [o for o in outcomes if o.obligation.kind in meeting_kinds]
    reported = [m for m in idx.meetings_by_org.get(branch.id, ()) if _open(branch, m.held_on)]
    held = counted_meetings(reported, idx, rs)
    kept = {m.event_id for m in held}
    duplicates = [m.event_id for m in reported if m.event_id not in kept]
    requirement = org_life_requirement(branch, rs)
    if not owed:
        return IndicatorResult(
            "org_life", None, requirement, ONE, note="本期无应开会议 / nothing owed this period"
        )
    done = sum(1 for o in owed if o.fulfilled_by)
    frequency = Fraction(done, len(owed))
    stints = idx.stints_by_org.get(branch.id, ())
    expected = sum(m.expected for m in held if m.expected > 0)
    on_roll = {m.event_id: on_roll_attendees(m, stints) for m in held}
    off_roll = sum(m.attendees - on_roll[m.event_id] for m in held)
    counted = {m.event_id: m.attendees for m in held} if rs.plausibility.off_roll_counted else on_roll
    attended = sum(min(counted[m.event_id], m.expected) for m in held if m.expected > 0)
    attendance = Fraction(attended, expected) if expected else Fraction(0)
    value = rs.org_life_frequency * frequency + rs.org_life_attendance * attendance
    return IndicatorResult(
        "org_life",
        value,
        requirement,
        ONE,
        evidence=tuple(m.event_id for m in held),
        details=(
            ("owed", len(owed)),
            ("held", done),
            ("frequency", float(frequency)),
            ("attendance", float(attendance)),
            ("duplicates", duplicates),
            ("off_roll_attendees", off_roll),
        ),
    )


def learning(branch: Branch, idx: PeriodIndex, rs: Ruleset, days: int) -> IndicatorResult:
    requirement = f"每名党员每天≥{rs.learning_minutes}分钟 / {rs.learning_minutes} min per member per day"
    if days == 0:
        return IndicatorResult(
            "learning", None, requirement, ONE, note="本期无在册党员 / no members this period"
        )
    per_day: dict[tuple[str, date], int] = defaultdict(int)
    evidence = []
    win = idx.elapsed
    for s in idx.stints_by_org.get(branch.id, ()):
        if not s.party_member:
            continue
        start, end = _open_span(branch, win, s)
        for le in idx.learning_by_member.get(s.member_id, ()):
            if win.contains(le.day) and start <= le.day and (end is None or le.day < end):
                per_day[(s.member_id, le.day)] += le.minutes
                evidence.append(le.event_id)
    credited = sum(min(m, rs.learning_minutes) for m in per_day.values())
    value = min(ONE, Fraction(credited, rs.learning_minutes * days))
    return IndicatorResult(
        "learning",
        value,
        requirement,
        ONE,
        evidence=tuple(sorted(evidence)),
        details=(("credited_minutes", credited), ("member_days", days)),
    )


def dues(branch: Branch, idx: PeriodIndex, grace: timedelta = timedelta(0)) -> IndicatorResult:
    """Member-months paid of those owed; a month not yet due (its end + grace not passed on the
    day judged) is owed only once paid."""
    requirement = "在册党员按月缴纳党费 / every member pays every month"
    owed: set[tuple[str, str]] = set()
    ends: dict[str, date] = {}  # each month's label and last day
    for month in idx.period.months():
        if not _open(branch, month.end):
            continue
        label = f"{month.start:%Y-%m}"
        ends[label] = month.end
        for s in idx.stints_by_org.get(branch.id, ()):
            if s.party_member and s.start <= month.end and (s.end is None or month.end < s.end):
                owed.add((s.member_id, label))
    paid: dict[tuple[str, str], str] = {}
    for member_id, label in sorted(owed):
        for d in idx.dues_by_member.get(member_id, ()):
            if d.month == label:
                paid.setdefault((member_id, label), d.event_id)
    if idx.today is not None:
        today = idx.today
        owed = {
            (member_id, label)
            for member_id, label in owed
            if (member_id, label) in paid or ends[label] + grace < today
        }
    if not owed:
        return IndicatorResult("dues", None, requirement, ONE, note="本期无应缴党费 / no dues owed")
    return IndicatorResult(
        "dues",
        Fraction(len(paid), len(owed)),
        requirement,
        ONE,
        evidence=tuple(sorted(paid.values())),
        details=(("member_months_owed", len(owed)), ("member_months_paid", len(paid))),
    )


def public_activity(branch: Branch, idx: PeriodIndex, rs: Ruleset) -> IndicatorResult:
    target = rs.public_target_share
    requirement = (
        f"≥{float(target) * 100:.0f}%党员参与 / at least {float(target) * 100:.0f}% of members take part"
    )
    members = {s.member_id for s in idx.stints_by_org.get(branch.id, ()) if s.party_member}
    if not members:
        return IndicatorResult("public_activity", None, requirement, ONE, note="本期无在册党员 / no members")
    held = [p for p in idx.public_by_org.get(branch.id, ()) if _open(branch, p.held_on)]
    took_part = {pid for p in held for pid in p.participant_ids if pid in members}
    share = Fraction(len(took_part), len(members))
    return IndicatorResult(
        "public_activity",
        min(ONE, share / target),
        requirement,
        ONE,
        evidence=tuple(p.event_id for p in held),
        details=(("participants", len(took_part)), ("members", len(members))),
    )


def political(object_type: str, object_id: str, idx: PeriodIndex, rs: Ruleset) -> IndicatorResult:
    ratings = idx.ratings_by_object.get((object_type, object_id), [])
    requirement = "评价人评议 / evaluators' ratings"
    if not ratings:
        return IndicatorResult("political", None, requirement, ONE)
    total = sum((rs.rating_points[r.rating] for r in ratings), Fraction(0))
    return IndicatorResult(
        "political",
        total / len(ratings) / 100,
        requirement,
        ONE,
        evidence=tuple(sorted(r.rating_id for r in ratings)),
        details=(("ratings", len(ratings)),),
    )


def reporting(
    branch: Branch, outcomes: list[ObligationOutcome], rs: Ruleset, level: str
) -> tuple[IndicatorResult, Fraction | None, Fraction | None]:
    requirement = (
        f"{level} 完整及时(宽限{rs.grace_days.get(level, 0)}天) / complete and on time "
        f"(grace {rs.grace_days.get(level, 0)} days)"
    )
    if not outcomes:
        return (
            IndicatorResult("reporting", None, requirement, ONE, note="本期无应报事项 / nothing owed"),
            None,
            None,
        )
    completeness = Fraction(sum(1 for o in outcomes if o.fulfilled_by), len(outcomes))
    timeliness = Fraction(sum(1 for o in outcomes if o.on_time), len(outcomes))
    value = rs.reporting_completeness * completeness + rs.reporting_timeliness * timeliness
    evidence = tuple(sorted({o.fulfilled_by for o in outcomes if o.fulfilled_by}))
    return (
        IndicatorResult(
            "reporting",
            value,
            requirement,
            ONE,
            evidence=evidence,
            details=(
                ("owed", len(outcomes)),
                ("reported", sum(1 for o in outcomes if o.fulfilled_by)),
                ("on_time", sum(1 for o in outcomes if o.on_time)),
                ("completeness", float(completeness)),
                ("timeliness", float(timeliness)),
            ),
        ),
        completeness,
        timeliness,
    )


def counted_meetings(meetings: Sequence[Meeting], idx: PeriodIndex, rs: Ruleset) -> list[Meeting]:
    """The meetings that count: a duplicate of one reported before is left out when the ruleset
    counts it once."""
    if rs.plausibility.duplicates_counted:
        return list(meetings)
    return [m for m in meetings if m.event_id not in idx.duplicates]


def deliveries(branch: Branch, idx: PeriodIndex, rs: Ruleset) -> list[Delivery]:
    """The branch's reports as the calendar sees them: meetings by kind, dues by month."""
    out = [
        Delivery(m.kind, m.held_on, m.received_at, m.event_id)
        for m in counted_meetings(idx.meetings_by_org.get(branch.id, ()), idx, rs)
    ]
    for s in idx.stints_by_org.get(branch.id, ()):
        for d in idx.dues_by_member.get(s.member_id, ()):
            window = month_window(d.month)
            if window.end < branch.opened:
                continue  # before the branch opened: on its opening day it would pay the opening month
            if s.start <= window.end and (s.end is None or window.start < s.end):
                out.append(Delivery("dues", max(window.start, branch.opened), d.received_at, d.event_id))
    return out


def _open(branch: Branch, day: date) -> bool:
    return branch.opened <= day and (branch.closed is None or day < branch.closed)


__all__ = [
    "ObligationCalendar",
    "PeriodIndex",
    "deliveries",
    "dues",
    "learning",
    "member_days",
    "org_life",
    "political",
    "public_activity",
    "reporting",
]
