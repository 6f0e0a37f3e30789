"""What scoring reads: plain, frozen facts projected from registry and activity events (no I/O).

Dates are Asia/Shanghai days; an interval's `end` is exclusive and None while still open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Classification:
    ownership: str
    party_org_status: str
    reporting_level: str
    sector: str = ""


@dataclass(frozen=True, slots=True)
class Institution:
    id: str
    name: str
    classes: tuple[tuple[date, Classification], ...]  # (effective_from, classification), any order

    def as_of(self, day: date) -> Classification | None:
        """The classification in force on `day` (effective-dated; latest start on or before it);
        None before the first one, when the institution was not yet in the alliance."""
        current = None
        for start, cls in sorted(self.classes, key=lambda c: c[0]):
            if start <= day:
                current = cls
        return current

    @property
    def joined(self) -> date | None:
        """The day it entered the alliance: its first classification's (None: never classified)."""
        return min(start for start, _ in self.classes) if self.classes else None


@dataclass(frozen=True, slots=True)
class Branch:
    id: str
    institution_ids: tuple[str, ...]
    kind: str
    name: str
    opened: date
    closed: date | None = None  # first day it no longer exists
    has_party_groups: bool = False


@dataclass(frozen=True, slots=True)
class Stint:
    """A member on one branch's roll from `start` until `end` (exclusive)."""

    member_id: str
    organization_id: str
    start: date
    end: date | None
    party_member: bool = True
    pocket: bool = False


@dataclass(frozen=True, slots=True)
class Meeting:
    event_id: str
    organization_id: str
    kind: str
    held_on: date
    attendees: int
    expected: int
    received_at: datetime
    # who attended and when exactly (None: stored before they were kept; their count stands)
    attendee_ids: tuple[str, ...] | None = None
    held_at: datetime | None = None
    review: str = "pending"  # its review state (pending, approved, returned, resubmitted)
    on_behalf: bool = False  # filed by a superior for the branch (上级代办)


@dataclass(frozen=True, slots=True)
class Learning:
    event_id: str
    member_id: str
    day: date
    minutes: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class DuesPayment:
    event_id: str
    member_id: str
    month: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class PublicActivity:
    event_id: str
    organization_id: str
    held_on: date
    participant_ids: tuple[str, ...]
    received_at: datetime
    review: str = "pending"
    on_behalf: bool = False


@dataclass(frozen=True, slots=True)
class Incident:
    event_id: str
    institution_id: str
    severity: str
    occurred_on: date


@dataclass(frozen=True, slots=True)
class Rating:
    rating_id: str
    object_type: str
    object_id: str
    evaluator: str
    rating: str


@dataclass(frozen=True, slots=True)
class Adjustment:
    adjustment_id: str
    object_type: str
    object_id: str
    points: str  # decimal text, exact
    reason: str


@dataclass(frozen=True, slots=True)
class Exemption:
    """The secretariat excused a branch from a kind of report (None = every kind) over some days."""

    organization_id: str
    kind: str | None
    start: date
    end: date


@dataclass
class PeriodFacts:
    """Everything scoring needs for one period, for any set of institutions."""

    institutions: dict[str, Institution] = field(default_factory=dict)
    branches: dict[str, Branch] = field(default_factory=dict)
    stints: list[Stint] = field(default_factory=list)
    meetings: list[Meeting] = field(default_factory=list)
    learning: list[Learning] = field(default_factory=list)
    dues: list[DuesPayment] = field(default_factory=list)
    public_activities: list[PublicActivity] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    exemptions: list[Exemption] = field(default_factory=list)
