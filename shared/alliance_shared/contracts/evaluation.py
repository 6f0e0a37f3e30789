"""Events of the evaluation service on `evaluation.events.v1`, keyed by organisation id."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from .base import AwareDatetime, EventPayload, Id, Quarter
from .topics import EVALUATION_EVENTS


class BranchFellBehind(EventPayload):
    """A branch is lagging (no organisational-life meeting for N days) or at risk (quarter
    three-quarters gone with organisational life under 60)."""

    event_type = "fpba.branch.fell_behind.v1"
    kafka_topic = EVALUATION_EVENTS

    organization_id: Id
    institution_id: Id
    status: Literal["lagging", "at_risk"]
    period: Quarter
    days_since_last_meeting: int | None  # None: never met since it opened
    last_meeting_at: AwareDatetime | None = None
    detected_at: AwareDatetime
    org_life_score: float | None = None


class BranchCaughtUp(EventPayload):
    """A lagging or at-risk branch reported again and left the list."""

    event_type = "fpba.branch.caught_up.v1"
    kafka_topic = EVALUATION_EVENTS

    organization_id: Id
    institution_id: Id
    previous_status: Literal["lagging", "at_risk"]
    period: Quarter
    caught_up_at: AwareDatetime
    meeting_event_id: str | None = None


class ReportsMissing(EventPayload):
    """Near a quarter's end a branch still owes reports its obligation calendar expects."""

    event_type = "fpba.reports.missing.v1"
    kafka_topic = EVALUATION_EVENTS

    organization_id: Id
    institution_id: Id
    period: Quarter
    missing: list[str] = Field(min_length=1)  # meeting kinds or indicator names
    due_on: date
    detected_at: AwareDatetime


class ScoreComputed(EventPayload):
    """A score for a branch or an institution and a period (the evidence stays in evaluation's API)."""

    event_type = "fpba.score.computed.v1"
    kafka_topic = EVALUATION_EVENTS

    period: Quarter
    object_type: Literal["institution", "branch"]
    object_id: Id
    institution_id: Id
    organization_id: str | None = None
    score: float
    grade: Literal["excellent", "good", "pass", "fail"]
    vetoed: bool
    ruleset: str
    computation_id: str
    computed_at: AwareDatetime
    keyed_by = ("object_id",)


class PeriodClosed(EventPayload):
    event_type = "fpba.period.closed.v1"
    kafka_topic = EVALUATION_EVENTS

    period: Quarter
    closed_at: AwareDatetime
    closed_by: str
    keyed_by = ("period",)


class PeriodUnlocked(EventPayload):
    """The secretariat granted an unlock exception on a closed period: one branch
    (`organization_id`) or one institution (`institution_id`) may report into it until `until`.
    Who asked, who granted it and why travel with it; keyed by the period, after its closing."""

    event_type = "fpba.period.unlocked.v1"
    kafka_topic = EVALUATION_EVENTS

    exception_id: Id
    period: Quarter
    organization_id: Id | None = None
    institution_id: Id | None = None
    requested_by: str = Field(min_length=1, max_length=200)
    granted_by: str = Field(max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    until: AwareDatetime
    granted_at: AwareDatetime
    keyed_by = ("period",)


class PeriodUnlockRevoked(EventPayload):
    """An unlock exception was revoked before its end: the period is closed to it again."""

    event_type = "fpba.period.unlock_revoked.v1"
    kafka_topic = EVALUATION_EVENTS

    exception_id: Id
    period: Quarter
    organization_id: Id | None = None
    institution_id: Id | None = None
    revoked_by: str = Field(max_length=200)
    revoked_at: AwareDatetime
    keyed_by = ("period",)


PAYLOADS: tuple[type[EventPayload], ...] = (
    BranchFellBehind, BranchCaughtUp, ReportsMissing, ScoreComputed, PeriodClosed, PeriodUnlocked,
    PeriodUnlockRevoked,
)
