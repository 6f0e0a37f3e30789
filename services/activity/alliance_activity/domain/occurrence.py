"""When an activity happened, on which day and in which period: the same answer for every kind."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from alliance_shared.clock import SHANGHAI, quarter_of
from alliance_shared.contracts.activity import (
    ComplianceIncidentReported,
    DuesPaid,
    LearningCompleted,
    MeetingHeld,
    PublicActivityHeld,
    SocialContributionReported,
)
from alliance_shared.contracts.base import EventPayload


def occurred_at(payload: EventPayload) -> datetime:
    """The instant the activity happened (UTC); day-, month- and quarter-level facts start at
    midnight Asia/Shanghai of their first day."""
    if isinstance(payload, MeetingHeld | PublicActivityHeld):
        return payload.held_at.astimezone(UTC)
    if isinstance(payload, ComplianceIncidentReported):
        return payload.occurred_at.astimezone(UTC)
    return datetime.combine(occurred_on(payload), time(0), SHANGHAI).astimezone(UTC)


def occurred_on(payload: EventPayload) -> date:
    """The day in Asia/Shanghai the activity belongs to."""
    if isinstance(payload, LearningCompleted):
        return payload.date
    if isinstance(payload, DuesPaid):
        year, month = payload.month.split("-")
        return date(int(year), int(month), 1)
    if isinstance(payload, SocialContributionReported):
        year, quarter = payload.period.split("-Q")
        return date(int(year), (int(quarter) - 1) * 3 + 1, 1)
    return occurred_at(payload).astimezone(SHANGHAI).date()


def period_of(payload: EventPayload) -> str:
    """The evaluation period (calendar quarter) the activity counts for."""
    if isinstance(payload, SocialContributionReported):
        return payload.period
    return quarter_of(datetime.combine(occurred_on(payload), time(12), SHANGHAI))


def in_utc(payload: EventPayload) -> EventPayload:
    """The payload with every instant expressed in UTC, so that the same activity reported through
    different channels becomes byte-for-byte the same canonical data."""
    changes = {name: value.astimezone(UTC) for name, value in payload if isinstance(value, datetime)}
    return payload.model_copy(update=changes) if changes else payload


def time_field(payload: EventPayload) -> str:
    """The payload field that says when the activity happened (where a refusal about it shows)."""
    if isinstance(payload, MeetingHeld | PublicActivityHeld):
        return "held_at"
    if isinstance(payload, ComplianceIncidentReported):
        return "occurred_at"
    if isinstance(payload, LearningCompleted):
        return "date"
    if isinstance(payload, DuesPaid):
        return "month"
    return "period"
