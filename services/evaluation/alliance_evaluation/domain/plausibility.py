"""Plausibility checks that change what counts: a meeting reported twice (the same branch and kind,
the same instant, the same attendees) is one meeting, and only attendees on the branch's roll on the
meeting's day attend it. Pure functions over the period's facts.

The kind is part of what makes a duplicate: a 主题党日 held together with a 支部党员大会 (…暨主题党日)
is one sitting that fulfils both, and is reported as two meetings at one instant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .facts import Meeting, Stint


def duplicate_meetings(meetings: Iterable[Meeting]) -> set[str]:
    """The event ids of meetings that repeat one received before them (ties: the smaller id is
    the original). Meetings stored without their attendees or time are never duplicates."""
    first: dict[tuple[str, str, object, frozenset[str]], Meeting] = {}
    duplicates: set[str] = set()
    for m in sorted(meetings, key=lambda m: (m.received_at, m.event_id)):
        if m.attendee_ids is None or m.held_at is None:
            continue
        key = (m.organization_id, m.kind, m.held_at, frozenset(m.attendee_ids))
        if key in first:
            duplicates.add(m.event_id)
        else:
            first[key] = m
    return duplicates


def on_roll_attendees(meeting: Meeting, stints: Sequence[Stint]) -> int:
    """How many of the meeting's attendees were party members on its branch's roll that day (a
    meeting stored without its attendees keeps its reported count)."""
    if meeting.attendee_ids is None:
        return meeting.attendees
    day = meeting.held_on
    roll = {
        s.member_id
        for s in stints
        if s.organization_id == meeting.organization_id
        and s.party_member
        and s.start <= day
        and (s.end is None or day < s.end)
    }
    return sum(1 for a in set(meeting.attendee_ids) if a in roll)
