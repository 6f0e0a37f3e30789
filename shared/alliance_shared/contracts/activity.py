"""Events of the activity service: the canonical activity kinds (CONTRACT.md) and rejections.

Institutions send the first six; the activity service republishes accepted ones on
`activity.events.v1` with the extension attributes `channel`, `institutionid`, `receivedat`,
`late`, `supersedes` and `flags` set, and rejections on `activity.rejected.v1`.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from .base import AwareDatetime, EventPayload, Id, Month, Quarter
from .topics import ACTIVITY_EVENTS, ACTIVITY_REJECTED
from .vocabulary import Channel, MeetingKind, Severity


class MeetingHeld(EventPayload):
    """三会一课: a branch held an organisational-life meeting."""

    event_type = "fpba.meeting.held.v1"
    kafka_topic = ACTIVITY_EVENTS

    organization_id: Id
    meeting_kind: MeetingKind
    held_at: AwareDatetime
    attendee_ids: list[Id] = Field(default_factory=list, max_length=10_000)
    expected_count: int = Field(ge=0, le=100_000)
    topic: str = Field(default="", max_length=500)
    minutes_hash: str | None = Field(default=None, max_length=128)
    photo_hashes: list[str] = Field(default_factory=list, max_length=50)


class LearningCompleted(EventPayload):
    """A member completed online learning (线上学习) on a day."""

    event_type = "fpba.learning.completed.v1"
    kafka_topic = ACTIVITY_EVENTS

    member_id: Id
    date: date
    minutes: int = Field(ge=0, le=1440 * 2)
    course: str = Field(default="", max_length=300)


class DuesPaid(EventPayload):
    """A member paid a month's Party dues (党费)."""

    event_type = "fpba.dues.paid.v1"
    kafka_topic = ACTIVITY_EVENTS

    member_id: Id
    month: Month
    amount_cny: float = Field(ge=0, le=1_000_000)


class PublicActivityHeld(EventPayload):
    """A public activity: volunteer service, emergency support, charity (重大公共活动)."""

    event_type = "fpba.public_activity.held.v1"
    kafka_topic = ACTIVITY_EVENTS

    organization_id: Id
    kind: str = Field(min_length=1, max_length=100)
    held_at: AwareDatetime
    participant_ids: list[Id] = Field(default_factory=list, max_length=10_000)
    hours: float = Field(ge=0, le=24 * 31)


class ComplianceIncidentReported(EventPayload):
    """A regulator reported a compliance incident (违规违纪 / 监管处罚); only the regulator role sends it."""

    event_type = "fpba.compliance.incident.v1"
    kafka_topic = ACTIVITY_EVENTS

    institution_id: Id
    severity: Severity
    occurred_at: AwareDatetime
    description: str = Field(default="", max_length=2000)


class SocialContributionReported(EventPayload):
    """An institution's contribution figures for a period (纳税 / 社会责任)."""

    event_type = "fpba.social_contribution.reported.v1"
    kafka_topic = ACTIVITY_EVENTS

    institution_id: Id
    period: Quarter
    tax_paid_cny: float = Field(ge=0)
    volunteer_hours: float = Field(ge=0)
    items: list[str] = Field(default_factory=list, max_length=200)


class RejectionReason(BaseModel):
    """Why a submission was rejected: the field at fault (JSON path or column) and the reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    reason: str


class SubmissionRejected(EventPayload):
    """A submitted event (or spreadsheet row) was rejected; the reporter is told why."""

    event_type = "fpba.submission.rejected.v1"
    kafka_topic = ACTIVITY_REJECTED

    submission_id: str  # the event id, or "<upload id>#<row>" for a spreadsheet row
    institution_id: str | None
    organization_id: str | None = None
    channel: Channel
    event_type_submitted: str | None = None
    reasons: list[RejectionReason]
    received_at: AwareDatetime
    reporter: str | None = None  # api key id or user subject, never a secret


ACTIVITY_KINDS: tuple[type[EventPayload], ...] = (
    MeetingHeld, LearningCompleted, DuesPaid, PublicActivityHeld,
    ComplianceIncidentReported, SocialContributionReported,
)
PAYLOADS: tuple[type[EventPayload], ...] = (*ACTIVITY_KINDS, SubmissionRejected)
