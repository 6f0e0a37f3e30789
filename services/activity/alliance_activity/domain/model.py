"""What the activity service knows: its projection of the registry, who reports, and what the one
ingestion path decides for each submitted event. Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from alliance_shared.contracts.activity import RejectionReason
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.vocabulary import Channel, Role


@dataclass(frozen=True)
class Institution:
    id: str
    reporting_level: str | None = None


@dataclass(frozen=True)
class Organization:
    id: str
    institution_ids: tuple[str, ...]
    established_at: date
    closed_at: date | None = None
    parent_id: str | None = None  # the committee or general branch above it

    def belongs_to(self, institution_id: str) -> bool:
        return institution_id in self.institution_ids

    def open_on(self, day: date) -> bool:
        return self.established_at <= day and (self.closed_at is None or day < self.closed_at)


@dataclass(frozen=True)
class Posting:
    """From `since`, the member's relation is held by `organization_id` of `institution_id`."""

    organization_id: str
    institution_id: str
    since: date


@dataclass(frozen=True)
class Member:
    id: str
    postings: tuple[Posting, ...]
    joined_at: date
    left_at: date | None = None

    def posting_on(self, day: date) -> Posting | None:
        """Where the member belonged on `day` (the first posting also covers earlier days)."""
        ordered = sorted(self.postings, key=lambda p: p.since)
        current = ordered[0] if ordered else None
        for posting in ordered:
            if posting.since <= day:
                current = posting
        return current

    def active_on(self, day: date) -> bool:
        return self.left_at is None or day < self.left_at


@dataclass(frozen=True)
class Reporter:
    """Who submitted: a machine key (role None), a person with a role, or an institution's stream."""

    subject: str
    institution_id: str | None
    role: Role | None = None
    organization_id: str | None = None  # a branch secretary reports for this branch only
    key_id: str | None = None


@dataclass(frozen=True)
class Submitted:
    """One item a channel parsed: a raw CloudEvent object, or what was wrong before that."""

    raw: object
    label: str  # the event id or the spreadsheet row, for the answer
    row: int | None = None
    error: RejectionReason | None = None


@dataclass(frozen=True)
class Reference:
    """The slice of the registry projection that a batch needs."""

    institutions: dict[str, Institution] = field(default_factory=dict)
    organizations: dict[str, Organization] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    member_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PriorAccepted:
    """An accepted event a correction may supersede."""

    institution_id: str
    type: str
    subject: str | None
    learning_day: tuple[str, str] | None = None
    minutes: int = 0


@dataclass
class History:
    """What earlier accepted submissions say about this batch: known ids, learning minutes per
    member and day, the events that used each minutes or photo hash, the meetings already reported
with the same branch, time and attendees."""

    accepted: dict[str, PriorAccepted] = field(default_factory=dict)
    learning_minutes: dict[tuple[str, str], int] = field(default_factory=dict)
    minutes_hashes: dict[str, set[str]] = field(default_factory=dict)  # hash -> event ids
    photo_hashes: dict[str, set[str]] = field(default_factory=dict)
    meeting_keys: dict[str, set[str]] = field(default_factory=dict)  # meeting_key -> event ids


@dataclass(frozen=True)
class Accepted:
    event: CloudEvent  # the canonical event for activity.events.v1
    payload: EventPayload
    key: str | None
    label: str
    row: int | None
    facts: dict[str, object]  # fields stored for later plausibility checks

    @property
    def flags(self) -> list[str]:
        """The plausibility flags raised on it (its `flags` extension, comma-separated)."""
        return [f for f in (self.event.flags or "").split(",") if f]


@dataclass(frozen=True)
class Duplicate:
    event_id: str
    label: str
    row: int | None


@dataclass(frozen=True)
class Rejected:
    event_id: str | None
    label: str
    row: int | None
    reasons: tuple[RejectionReason, ...]
    type: str | None = None
    institution_id: str | None = None
    organization_id: str | None = None

    @property
    def reason_text(self) -> str:
        return "; ".join(f"{r.field}: {r.reason}" for r in self.reasons)


Verdict = Accepted | Duplicate | Rejected


@dataclass(frozen=True)
class Arrival:
    """When and how a batch arrived."""

    channel: Channel
    reporter: Reporter
    received_at: datetime
    batch_id: str | None = None  # the submission it came in: provenance of its events
    file_name: str | None = None  # the uploaded file's name (L1)
