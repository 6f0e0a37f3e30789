"""The obligation calendar of a branch: which reports it owes in a period, and which it delivered.

A window (a month, or the quarter) is owed only when the branch was open for at least the ruleset's
share of it and no exemption covers it; a report counts only against an owed window. So completeness
and timeliness can never exceed 100%, whether a branch opens or closes mid-quarter.

Settled on a given day (`today`), an obligation whose due date has not passed and that nothing has
fulfilled yet is pending: neither missing nor late, and left out of every count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .facts import Branch, Exemption
from .periods import Period, Window, local_day
from .ruleset import Ruleset


@dataclass(frozen=True, slots=True)
class Obligation:
    kind: str  # a meeting kind, or a monthly report such as "dues"
    window: Window
    due: date  # last day a report is on time (window end + the level's grace)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A report that may fulfil an obligation: what, for which day, and when it arrived."""

    kind: str
    day: date
    received_at: datetime
    event_id: str


@dataclass(frozen=True, slots=True)
class ObligationOutcome:
    obligation: Obligation
    fulfilled_by: str | None  # the first report received for it
    on_time: bool


class ObligationCalendar:
    """The reports one branch owes in one period, given the institution's reporting level."""

    def __init__(
        self,
        branch: Branch,
        period: Period,
        ruleset: Ruleset,
        reporting_level: str,
        exemptions: list[Exemption] | tuple[Exemption, ...] = (),
    ) -> None:
        self.branch = branch
        self.period = period
        grace = grace_for(ruleset, reporting_level)
        owed: list[Obligation] = []
        kinds = [
            (r.kind, r.cadence)
            for r in ruleset.meetings
            if branch.has_party_groups or not r.only_with_party_groups
        ]
        kinds += [(k, "monthly") for k in ruleset.monthly_reports]
        for kind, cadence in sorted(kinds):
            windows = period.months() if cadence == "monthly" else [period.window]
            for window in windows:
                open_days = window.overlap_days(branch.opened, branch.closed)
                share = ruleset.min_open_share  # open_days / days < share, in integers
                if open_days * share.denominator < share.numerator * window.days:
                    continue
                if any(_exempt(e, kind, window) for e in exemptions if e.organization_id == branch.id):
                    continue
                owed.append(Obligation(kind, window, window.end + grace))
        self.obligations: tuple[Obligation, ...] = tuple(owed)

    def settle(self, deliveries: list[Delivery], today: date | None = None) -> list[ObligationOutcome]:
        """Match reports to owed windows: one window, one report (the first received). With `today`,
        obligations still pending on that day (not fulfilled, due date not passed) are left out."""
        by_kind: dict[str, list[Delivery]] = {}
        for d in sorted(deliveries, key=lambda d: (d.received_at, d.event_id)):
            by_kind.setdefault(d.kind, []).append(d)
        outcomes = []
        for ob in self.obligations:
            first = next(
                (d for d in by_kind.get(ob.kind, ()) if ob.window.contains(d.day) and self._open_on(d.day)),
                None,
            )
            if first is None and pending_on(ob, today):
                continue
            on_time = first is not None and local_day(first.received_at) <= ob.due
            outcomes.append(ObligationOutcome(ob, first.event_id if first else None, on_time))
        return outcomes

    def _open_on(self, day: date) -> bool:
        return self.branch.opened <= day and (self.branch.closed is None or day < self.branch.closed)


def pending_on(obligation: Obligation, today: date | None) -> bool:
    """Not yet due on `today` (its due date has not passed): an unfulfilled one is not missing."""
    return today is not None and today <= obligation.due


def grace_for(ruleset: Ruleset, reporting_level: str) -> timedelta:
    """The days after a window's end within which its report is still on time."""
    return timedelta(days=ruleset.grace_days.get(reporting_level, max(ruleset.grace_days.values())))


def _exempt(exemption: Exemption, kind: str, window: Window) -> bool:
    if exemption.kind is not None and exemption.kind != kind:
        return False
    return exemption.start <= window.start and window.end <= exemption.end
