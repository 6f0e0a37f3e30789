"""Events of the activity service: the canonical activity kinds (CONTRACT.md) and rejections.

Institutions send the first six; the activity service republishes accepted ones on
`activity.events.v1` with the extension attributes `channel`, `institutionid`, `receivedat`,
`late`, `supersedes` and `flags` set, and rejections on `activity.rejected.v1`. The review of an
accepted meeting or public activity (approved, returned, resubmitted) travels on
`activity.events.v1` too, keyed like the report itself, so it never overtakes it.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from .base import AwareDatetime, EventPayload, Id, Month, Quarter
from .topics import ACTIVITY_EVENTS, ACTIVITY_REJECTED
from .vocabulary import Channel, MeetingKind, ReviewState, Role, Severity


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


class _SubmissionReview(EventPayload):
    """What every review fact says: which accepted report, where it now stands, who moved it and
    when. `version` counts the report's review steps, so a consumer applies them in order."""

    submission_id: Id  # the accepted event's id
    institution_id: Id  # the institution the report is of
    organization_id: Id | None = None
    event_type_submitted: str = Field(max_length=100)
    state: ReviewState  # the state the report is in after this step
    version: int = Field(ge=1)
    by: str = Field(max_length=200)  # the subject of the reviewer (or of the reporter resubmitting)
    by_role: Role | None = None
    comment: str = Field(default="", max_length=1000)
    at: AwareDatetime


class SubmissionApproved(_SubmissionReview):
    """The institution's Party admin (or the secretariat) approved a reported meeting or public activity."""

    event_type = "fpba.submission.approved.v1"
    kafka_topic = ACTIVITY_EVENTS


class SubmissionReturned(_SubmissionReview):
    """A reported meeting or public activity was returned to its reporter, to be corrected; the
    comment says why. Its reporter is told (email, SMS, and on the form)."""

    event_type = "fpba.submission.returned.v1"
    kafka_topic = ACTIVITY_EVENTS

    comment: str = Field(min_length=1, max_length=1000)
    reporter: str | None = None  # the subject or key id that filed it, never a secret
    activity_kind: str | None = None  # the meeting kind or the public activity's kind
    held_at: AwareDatetime | None = None


class SubmissionResubmitted(_SubmissionReview):
    """A returned report was corrected and sent again (`submission_id` is the correction, which
    supersedes `returned_id`; the same id when it was sent again unchanged); it awaits review."""

    event_type = "fpba.submission.resubmitted.v1"
    kafka_topic = ACTIVITY_EVENTS

    returned_id: Id


REVIEW_EVENTS: tuple[type[EventPayload], ...] = (SubmissionApproved, SubmissionReturned, SubmissionResubmitted)


ACTIVITY_KINDS: tuple[type[EventPayload], ...] = (
    MeetingHeld, LearningCompleted, DuesPaid, PublicActivityHeld,
    ComplianceIncidentReported, SocialContributionReported,
)
PAYLOADS: tuple[type[EventPayload], ...] = (*ACTIVITY_KINDS, SubmissionRejected, *REVIEW_EVENTS)
