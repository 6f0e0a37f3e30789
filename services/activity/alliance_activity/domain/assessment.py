"""The one decision every channel shares: is a submitted event valid, about the reporter's own
organisations and members, new, and plausible? Pure: the caller loads the `Reference` and
`History` that `needs_of` asks for, and stores and publishes what `Assessor` decides."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from alliance_shared.clock import quarter_of
from alliance_shared.contracts.activity import (
    ACTIVITY_KINDS,
    ComplianceIncidentReported,
    DuesPaid,
    LearningCompleted,
    MeetingHeld,
    PublicActivityHeld,
    RejectionReason,
    SocialContributionReported,
)
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import parse_payload
from alliance_shared.contracts.envelope import JSON_CONTENT_TYPE, CloudEvent, EnvelopeError
from alliance_shared.contracts.published import SCHEMA_BASE
from alliance_shared.contracts.vocabulary import Role

from . import reasons as why
from .model import (
    Accepted,
    Arrival,
    Duplicate,
    History,
    Organization,
    Posting,
    PriorAccepted,
    Reference,
    Rejected,
    Submitted,
    Verdict,
)
from .occurrence import in_utc, occurred_at, occurred_on, period_of, time_field

ACTIVITY_TYPES = frozenset(p.event_type for p in ACTIVITY_KINDS)
DAY_MINUTES = 24 * 60

# plausibility flags: the event is accepted and carries them in its `flags` extension
ATTENDANCE_ABOVE_MEMBERS = "attendance_above_members"
NO_ATTENDEES = "no_attendees"
LEARNING_OVER_24H = "learning_over_24h"
MINUTES_REUSED = "minutes_reused"
PHOTO_REUSED = "photo_reused"
FUTURE_TIME = "future_time"
CLOCK_SKEW = timedelta(minutes=5)  # a time ahead of now by more than this, within the tolerance, is flagged
UNKNOWN_ATTENDEES = "unknown_attendees"
OFF_ROLL_ATTENDEES = "off_roll_attendees"  # known members on another branch's roll that day
DUPLICATE_MEETING = "duplicate_meeting"  # the branch's meeting of that kind, time and attendees again


def meeting_key(p: MeetingHeld) -> str:
    """What makes two reports one meeting: the branch, the kind, the instant, the set of attendees
    (two kinds at one instant are one sitting that fulfils both, such as 党员大会暨主题党日)."""
    people = ",".join(sorted(set(p.attendee_ids)))
    text = f"{p.organization_id}|{p.meeting_kind.value}|{p.held_at.astimezone(UTC).isoformat()}|{people}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Parsed:
    event: CloudEvent
    payload: EventPayload
    label: str
    row: int | None


def parse(item: Submitted) -> Parsed | Rejected:
    """The envelope and the typed payload of one submitted item, or why not."""
    if item.error is not None:
        return Rejected(None, item.label, item.row, (item.error,))
    try:
        event = CloudEvent.from_structured(item.raw)
    except EnvelopeError as exc:
        event_id = item.raw.get("id") if isinstance(item.raw, dict) else None
        return Rejected(
            event_id if isinstance(event_id, str) else None,
            _label(item, event_id),
            item.row,
            (why.reason(exc.field, exc.reason),),
        )
    label = item.label or event.id
    if event.type not in ACTIVITY_TYPES:
        return Rejected(event.id, label, item.row, (why.reason("type", why.NOT_AN_ACTIVITY),), type=event.type)
    try:
        payload = parse_payload(event)
    except EnvelopeError as exc:
        return Rejected(event.id, label, item.row, (why.reason(exc.field, exc.reason),), type=event.type)
    return Parsed(event, payload, label, item.row)


def _label(item: Submitted, event_id: object) -> str:
    return item.label or (event_id if isinstance(event_id, str) else "?")


@dataclass
class Needs:
    """What to load from the store to assess a batch."""

    institution_ids: set[str] = field(default_factory=set)
    organization_ids: set[str] = field(default_factory=set)
    member_ids: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)
    superseded_ids: set[str] = field(default_factory=set)
    learning_days: set[tuple[str, str]] = field(default_factory=set)
    minutes_hashes: set[str] = field(default_factory=set)
    photo_hashes: set[str] = field(default_factory=set)
    meeting_keys: set[str] = field(default_factory=set)
    # the organisations whose secretaries report in the pass: one may file for a branch under it
    # (上级代办), so the branches' superiors are loaded when a branch other than theirs is named
    secretaries: set[str] = field(default_factory=set)

    def merge(self, other: Needs) -> None:
        for name, wanted in vars(other).items():
            getattr(self, name).update(wanted)


def needs_of(batch: list[Parsed], arrival: Arrival) -> Needs:
    needs = Needs()
    if arrival.reporter.institution_id:
        needs.institution_ids.add(arrival.reporter.institution_id)
    if arrival.reporter.role is Role.BRANCH_SECRETARY and arrival.reporter.organization_id:
        needs.secretaries.add(arrival.reporter.organization_id)
    for item in batch:
        p = item.payload
        needs.event_ids.add(item.event.id)
        if item.event.supersedes:
            needs.event_ids.add(item.event.supersedes)
            needs.superseded_ids.add(item.event.supersedes)
        if isinstance(p, ComplianceIncidentReported | SocialContributionReported):
            needs.institution_ids.add(p.institution_id)
        if isinstance(p, MeetingHeld | PublicActivityHeld):
            needs.organization_ids.add(p.organization_id)
            needs.member_ids.update(p.attendee_ids if isinstance(p, MeetingHeld) else p.participant_ids)
        if isinstance(p, MeetingHeld):
            if p.minutes_hash:
                needs.minutes_hashes.add(p.minutes_hash)
            needs.photo_hashes.update(p.photo_hashes)
            needs.meeting_keys.add(meeting_key(p))
        if isinstance(p, LearningCompleted | DuesPaid):
            needs.member_ids.add(p.member_id)
        if isinstance(p, LearningCompleted):
            needs.learning_days.add((p.member_id, p.date.isoformat()))
    return needs


class Assessor:
    """Decides a batch item by item; accepted items join the history, so a later item of the same
    batch sees them (a repeated id is a duplicate, minutes add up, hashes count as used)."""

    def __init__(
        self,
        arrival: Arrival,
        reference: Reference,
        history: History,
        future_tolerance: timedelta = timedelta(hours=24),
    ) -> None:
        self.arrival = arrival
        self.ref = reference
        self.history = history
        self.future_refused = arrival.received_at + future_tolerance  # later than this: refused
        self.future_limit = arrival.received_at + min(CLOCK_SKEW, future_tolerance)  # later: flagged

    def assess(self, item: Parsed | Rejected) -> Verdict:
        if isinstance(item, Rejected):
            return item
        event, payload = item.event, item.payload
        institution_id, refusal = self._reporting_institution(payload, event)
        if refusal is not None or institution_id is None:
            return self._reject(item, [refusal or why.reason("institutionid", why.NO_INSTITUTION)], None)
        prior = self.history.accepted.get(event.id)
        if prior is not None:
            if prior.institution_id != institution_id:
                return self._reject(item, [why.reason("id", why.ID_TAKEN)], institution_id)
            return Duplicate(event.id, item.label, item.row)
        reasons, key, subject, attendees = self._references(payload, institution_id)
        reasons += self._correction(event, institution_id, subject)
        reasons += self._not_in_the_future(event, payload)
        if reasons:
            return self._reject(item, reasons, institution_id)
        return self._accept(item, institution_id, key, subject, attendees)

    # -- who reports, and for whom ---------------------------------------------------------------
    def _reporting_institution(
        self, payload: EventPayload, event: CloudEvent
    ) -> tuple[str | None, RejectionReason | None]:
        reporter = self.arrival.reporter
        if isinstance(payload, ComplianceIncidentReported):
            if reporter.role is not Role.REGULATOR:
                return None, why.reason("type", why.REGULATOR_ONLY)
            if payload.institution_id not in self.ref.institutions:
                return None, why.reason("data.institution_id", why.UNKNOWN_INSTITUTION)
            return payload.institution_id, None
        if reporter.role is Role.REGULATOR:
            return None, why.reason("type", why.REGULATOR_SENDS_INCIDENTS)
        if reporter.institution_id is None:
            return None, why.reason("institutionid", why.NO_INSTITUTION)
        if event.institutionid and event.institutionid != reporter.institution_id:
            return None, why.reason("institutionid", why.OTHER_INSTITUTION)
        if reporter.institution_id not in self.ref.institutions:
            return None, why.reason("institutionid", why.UNKNOWN_INSTITUTION)
        return reporter.institution_id, None

    # -- reference checks against the registry projection --------------------------------------
    def _references(
        self, p: EventPayload, institution_id: str
    ) -> tuple[list[RejectionReason], str | None, str | None, list[str]]:
        """Reasons to refuse, the Kafka key, the subject, and the attendees/participants."""
        day = occurred_on(p)
        if isinstance(p, MeetingHeld | PublicActivityHeld):
            people = list(p.attendee_ids if isinstance(p, MeetingHeld) else p.participant_ids)
            return (
                self._organization(p.organization_id, institution_id, day),
                p.organization_id,
                p.organization_id,
                people,
            )
        if isinstance(p, LearningCompleted | DuesPaid):
            member = self.ref.members.get(p.member_id)
            if member is None:
                return [why.reason("data.member_id", why.UNKNOWN_MEMBER)], None, p.member_id, []
            posting = member.posting_on(day)
            if posting is None or not self._reports_for(posting, institution_id):
                return [why.reason("data.member_id", why.FOREIGN_MEMBER)], None, p.member_id, []
            if not member.active_on(day):
                return [why.reason("data.member_id", why.MEMBER_GONE)], None, p.member_id, []
            if self._other_branch(posting.organization_id):
                return [why.reason("data.member_id", why.OTHER_BRANCH)], None, p.member_id, []
            return [], posting.organization_id, p.member_id, []
        if isinstance(p, SocialContributionReported) and p.institution_id != institution_id:
            return [why.reason("data.institution_id", why.OTHER_INSTITUTION)], None, p.institution_id, []
        subject = getattr(p, "institution_id", institution_id)
        return [], institution_id, subject, []

    def _reports_for(self, posting: Posting, institution_id: str) -> bool:
        """The member's institution, or any institution the member's (joint) branch covers."""
        if posting.institution_id == institution_id:
            return True
        org = self.ref.organizations.get(posting.organization_id)
        return org is not None and org.belongs_to(institution_id)

    def _organization(self, organization_id: str, institution_id: str, day: Any) -> list[RejectionReason]:
        org = self.ref.organizations.get(organization_id)
        if org is None:
            return [why.reason("data.organization_id", why.UNKNOWN_ORGANIZATION)]
        if not org.belongs_to(institution_id):
            return [why.reason("data.organization_id", why.FOREIGN_ORGANIZATION)]
        if not org.open_on(day):
            return [why.reason("data.organization_id", why.CLOSED_ORGANIZATION)]
        if self._other_branch(organization_id):
            return [why.reason("data.organization_id", why.OTHER_BRANCH)]
        return []

    def _not_in_the_future(self, event: CloudEvent, p: EventPayload) -> list[RejectionReason]:
        """An activity cannot have happened after it was reported (beyond the tolerance for clocks
        and for day- and month-level facts, which start at midnight)."""
        out = []
        if occurred_at(p) > self.future_refused:
            out.append(why.reason(f"data.{time_field(p)}", why.FUTURE_TIME))
        if event.time is not None and event.time > self.future_refused:
            out.append(why.reason("time", why.FUTURE_TIME))
        return out

    def _other_branch(self, organization_id: str) -> bool:
        """A branch secretary reports for their own branch, and the secretary of a committee or
        general branch also for the branches under it (上级代办, filed on their behalf)."""
        reporter = self.arrival.reporter
        if reporter.role is not Role.BRANCH_SECRETARY or reporter.organization_id is None:
            return False
        return reporter.organization_id not in superiors(self.ref.organizations, organization_id)

    def _correction(self, event: CloudEvent, institution_id: str, subject: str | None) -> list[RejectionReason]:
        if not event.supersedes:
            return []
        if event.supersedes == event.id:
            return [why.reason("supersedes", why.SELF_SUPERSEDED)]
        target = self.history.accepted.get(event.supersedes)
        if target is None:
            return [why.reason("supersedes", why.UNKNOWN_SUPERSEDED)]
        if target.institution_id != institution_id:
            return [why.reason("supersedes", why.FOREIGN_SUPERSEDED)]
        if target.type != event.type or target.subject != subject:
            return [why.reason("supersedes", why.MISMATCHED_CORRECTION)]
        return []

    # -- outcomes --------------------------------------------------------------------------------
    def _reject(self, item: Parsed, reasons: list[RejectionReason], institution_id: str | None) -> Rejected:
        return Rejected(
            item.event.id,
            item.label,
            item.row,
            tuple(reasons),
            type=item.event.type,
            institution_id=institution_id,
            organization_id=getattr(item.payload, "organization_id", None),
        )

    def _accept(
        self, item: Parsed, institution_id: str, key: str | None, subject: str | None, attendees: list[str]
    ) -> Accepted:
        event, payload = item.event, item.payload
        flags = self._flags(event, payload, attendees)
        arrival = self.arrival
        canonical = CloudEvent(
            id=event.id,
            source=event.source,
            type=event.type,
            subject=subject,
            time=occurred_at(payload),
            datacontenttype=JSON_CONTENT_TYPE,
            dataschema=f"{SCHEMA_BASE}{event.type}.json",
            data=in_utc(payload).model_dump(mode="json"),
            institutionid=institution_id,
            reportinglevel=self.ref.institutions[institution_id].reporting_level
            if institution_id in self.ref.institutions
            else None,
            channel=arrival.channel.value,
            receivedat=arrival.received_at,
            supersedes=event.supersedes,
            late=period_of(payload) < _quarter(arrival),
            flags=",".join(flags) or None,
            batchid=arrival.batch_id,
            filename=arrival.file_name,
            sourcerow=item.row,
        )
        facts = self._remember(event, payload, institution_id, subject)
        return Accepted(canonical, payload, key, item.label, item.row, facts)

    def _flags(self, event: CloudEvent, p: EventPayload, attendees: list[str]) -> list[str]:
        flags: list[str] = []
        superseded = event.supersedes
        if isinstance(p, MeetingHeld):
            if not p.attendee_ids:
                flags.append(NO_ATTENDEES)
            elif len(set(p.attendee_ids)) > self.ref.member_counts.get(p.organization_id, 0):
                flags.append(ATTENDANCE_ABOVE_MEMBERS)
            mine = {event.id, superseded}
            if p.minutes_hash and self.history.minutes_hashes.get(p.minutes_hash, set()) - mine:
                flags.append(MINUTES_REUSED)
            if any(self.history.photo_hashes.get(h, set()) - mine for h in p.photo_hashes):
                flags.append(PHOTO_REUSED)
            if self.history.meeting_keys.get(meeting_key(p), set()) - mine:
                flags.append(DUPLICATE_MEETING)
            if any(self._off_roll(a, p) for a in set(p.attendee_ids)):
                flags.append(OFF_ROLL_ATTENDEES)
        if attendees and any(a not in self.ref.members for a in attendees):
            flags.append(UNKNOWN_ATTENDEES)
        if isinstance(p, LearningCompleted):
            day_key = (p.member_id, p.date.isoformat())
            before = self.history.learning_minutes.get(day_key, 0)
            prior = self.history.accepted.get(superseded or "")
            if prior is not None and prior.learning_day == day_key:
                before -= prior.minutes
            if before + p.minutes > DAY_MINUTES:
                flags.append(LEARNING_OVER_24H)
        if occurred_at(p) > self.future_limit or (event.time is not None and event.time > self.future_limit):
            flags.append(FUTURE_TIME)
        return flags

    def _off_roll(self, member_id: str, p: MeetingHeld) -> bool:
        """A known member whose relation was held by another organisation on the meeting's day."""
        member = self.ref.members.get(member_id)
        if member is None:
            return False  # unknown: its own flag
        day = occurred_on(p)
        posting = member.posting_on(day)
        return not member.active_on(day) or posting is None or posting.organization_id != p.organization_id

    def _remember(
        self, event: CloudEvent, p: EventPayload, institution_id: str, subject: str | None
    ) -> dict[str, object]:
        """Add an accepted event to the history and return the facts stored with it."""
        facts: dict[str, object] = {
            "institution_id": institution_id,
            "type": event.type,
            "subject": subject,
            "organization_id": getattr(p, "organization_id", None),
            "member_id": getattr(p, "member_id", None),
        }
        learning_day: tuple[str, str] | None = None
        minutes = 0
        if isinstance(p, LearningCompleted):
            learning_day, minutes = (p.member_id, p.date.isoformat()), p.minutes
            facts |= {"day": p.date.isoformat(), "minutes": p.minutes}
            self.history.learning_minutes[learning_day] = self.history.learning_minutes.get(learning_day, 0) + minutes
        if isinstance(p, MeetingHeld):
            if p.minutes_hash:
                self.history.minutes_hashes.setdefault(p.minutes_hash, set()).add(event.id)
                facts["minutes_hash"] = p.minutes_hash
            for h in p.photo_hashes:
                self.history.photo_hashes.setdefault(h, set()).add(event.id)
            facts["photo_hashes"] = list(p.photo_hashes)
            key = meeting_key(p)
            self.history.meeting_keys.setdefault(key, set()).add(event.id)
            facts["meeting_key"] = key
        self.history.accepted[event.id] = PriorAccepted(
            institution_id, event.type, subject, learning_day=learning_day, minutes=minutes
        )
        return facts




def _quarter(arrival: Arrival) -> str:
    return quarter_of(arrival.received_at.astimezone(UTC))


def superiors(organizations: Mapping[str, Organization], organization_id: str) -> list[str]:
    """`organization_id` and the organisations above it, nearest first (as far as they are known)."""
    chain = [organization_id]
    while (org := organizations.get(chain[-1])) is not None and org.parent_id and org.parent_id not in chain:
        chain.append(org.parent_id)
    return chain
