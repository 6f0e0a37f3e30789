"""Small factories for the activity domain's unit tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from alliance_activity.domain.model import (
    Arrival,
    History,
    Institution,
    Member,
    Organization,
    Posting,
    Reference,
    Reporter,
    Submitted,
)
from alliance_shared.contracts.vocabulary import Channel, Role

NOW = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)  # 2026-Q4 in Shanghai


def reference() -> Reference:
    return Reference(
        institutions={"inst-a": Institution("inst-a", "L2"), "inst-b": Institution("inst-b", "L1")},
        organizations={
            "org-a": Organization("org-a", ("inst-a",), date(2020, 1, 1)),
            "org-b": Organization("org-b", ("inst-b",), date(2020, 1, 1)),
            "org-closed": Organization("org-closed", ("inst-a",), date(2020, 1, 1), date(2026, 1, 1)),
            "org-joint": Organization("org-joint", ("inst-a", "inst-b"), date(2020, 1, 1)),
        },
        members={
            "m-1": Member("m-1", (Posting("org-a", "inst-a", date(2020, 1, 1)),), date(2020, 1, 1)),
            "m-2": Member("m-2", (Posting("org-a", "inst-a", date(2020, 1, 1)),), date(2020, 1, 1)),
            "m-b": Member("m-b", (Posting("org-b", "inst-b", date(2020, 1, 1)),), date(2020, 1, 1)),
            "m-joint": Member("m-joint", (Posting("org-joint", "inst-b", date(2020, 1, 1)),), date(2020, 1, 1)),
        },
        member_counts={"org-a": 2, "org-b": 1},
    )


def arrival(
    institution: str | None = "inst-a",
    role: Role | None = None,
    organization: str | None = None,
    at: datetime = NOW,
) -> Arrival:
    return Arrival(Channel.BATCH, Reporter("key:k1", institution, role, organization, "k1"), at)


def meeting(
    event_id: str = "e-1",
    org: str = "org-a",
    attendees: tuple[str, ...] = ("m-1", "m-2"),
    held_at: str = "2026-10-12T09:00:00+08:00",
    **data: Any,
) -> Submitted:
    body = {
        "organization_id": org,
        "meeting_kind": "branch_committee_meeting",
        "held_at": held_at,
        "attendee_ids": list(attendees),
        "expected_count": 2,
        "topic": "学习",
    } | data
    return raw(event_id, "fpba.meeting.held.v1", body)


def learning(event_id: str, member: str = "m-1", day: str = "2026-10-12", minutes: int = 30) -> Submitted:
    return raw(event_id, "fpba.learning.completed.v1", {"member_id": member, "date": day, "minutes": minutes})


def raw(event_id: str, event_type: str, data: dict[str, Any], **attrs: Any) -> Submitted:
    return Submitted(
        {"specversion": "1.0", "id": event_id, "source": "/test", "type": event_type, "data": data, **attrs},
        event_id,
    )


def history() -> History:
    return History()
