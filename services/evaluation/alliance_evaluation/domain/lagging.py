"""The lagging scan's decision for one branch: lagging (no organisational-life meeting for N days),
at risk (the quarter three-quarters gone, organisational life under 60), or fine — and whether that
is news (a branch entering, changing status on, or leaving the list)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .periods import Period


@dataclass(frozen=True, slots=True)
class BranchPulse:
    organization_id: str
    institution_id: str
    opened: date
    last_meeting_on: date | None
    org_life_points: float | None  # organisational-life value (0–100) of the current period


@dataclass(frozen=True, slots=True)
class LaggingPolicy:
    days_without_meeting: int = 60
    at_risk_share: float = 0.75
    at_risk_below: float = 60.0


@dataclass(frozen=True, slots=True)
class Assessment:
    status: str | None  # "lagging" | "at_risk" | None
    days_since_last_meeting: int | None  # None: never met


def assess(pulse: BranchPulse, today: date, policy: LaggingPolicy) -> Assessment:
    since = pulse.last_meeting_on or pulse.opened
    days = (today - since).days
    reported_days = (today - pulse.last_meeting_on).days if pulse.last_meeting_on else None
    if days >= policy.days_without_meeting:
        return Assessment("lagging", reported_days)
    period = Period.of_day(today)
    if (
        period.share_elapsed(today) >= policy.at_risk_share
        and pulse.opened <= period.start
        and (pulse.org_life_points or 0.0) < policy.at_risk_below
    ):
        return Assessment("at_risk", reported_days)
    return Assessment(None, reported_days)


def change(previous: str | None, current: str | None) -> str | None:
    """`fell_behind` when a branch enters the list or changes status on it, `caught_up` when it
    leaves, None when nothing is news."""
    if current is not None and current != previous:
        return "fell_behind"
    if current is None and previous is not None:
        return "caught_up"
    return None


def reports_due_soon(today: date, days_before_end: int) -> bool:
    """Near the quarter's end: the moment to tell branches which reports they still owe."""
    return 0 <= (Period.of_day(today).end - today).days < days_before_end
