"""The one decision of the ingestion path, without Kafka or the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alliance_activity.domain.assessment import (
    ATTENDANCE_ABOVE_MEMBERS,
    DUPLICATE_MEETING,
    FUTURE_TIME,
    LEARNING_OVER_24H,
    MINUTES_REUSED,
    NO_ATTENDEES,
    OFF_ROLL_ATTENDEES,
    PHOTO_REUSED,
    Assessor,
    needs_of,
    parse,
)
from alliance_activity.domain.model import Accepted, Duplicate, PriorAccepted, Rejected
from alliance_activity.settings import ActivitySettings
from alliance_shared.contracts.vocabulary import Role

from .factories import NOW, arrival, history, learning, meeting, raw, reference

pytestmark = pytest.mark.unit


def decide(*items, arr=None, hist=None):  # type: ignore[no-untyped-def]
    assessor = Assessor(arr or arrival(), reference(), hist or history())
    return [assessor.assess(parse(i)) for i in items]


def test_a_valid_meeting_becomes_a_canonical_event_with_channel_institution_and_times() -> None:
    [verdict] = decide(meeting())
    assert isinstance(verdict, Accepted)
    event = verdict.event
    assert (event.institutionid, event.reportinglevel, event.channel) == ("inst-a", "L2", "batch")
    assert event.time == datetime(2026, 10, 12, 1, 0, tzinfo=UTC)
    assert event.data["held_at"] == "2026-10-12T01:00:00Z"
    assert event.receivedat is not None and event.late is False and event.flags is None
    assert verdict.key == "org-a"


def test_the_same_meeting_with_another_offset_gives_the_same_canonical_data() -> None:
    [a] = decide(meeting(held_at="2026-10-12T09:00:00+08:00"))
    [b] = decide(meeting(held_at="2026-10-12T01:00:00+00:00"))
    assert isinstance(a, Accepted) and isinstance(b, Accepted)
    assert a.event.data == b.event.data and a.event.time == b.event.time


def test_a_branch_of_another_institution_is_rejected_with_the_field_and_reason() -> None:
    [verdict] = decide(meeting(org="org-b"))
    assert isinstance(verdict, Rejected)
    assert verdict.reasons[0].field == "data.organization_id"
    assert "another institution" in verdict.reasons[0].reason


def test_an_unknown_or_closed_branch_is_rejected() -> None:
    unknown, closed = decide(meeting("e-1", org="nope"), meeting("e-2", org="org-closed"))
    assert isinstance(unknown, Rejected) and "unknown organization" in unknown.reason_text
    assert isinstance(closed, Rejected) and "not open" in closed.reason_text


def test_a_repeated_id_in_one_batch_counts_once() -> None:
    first, second = decide(meeting("e-1"), meeting("e-1"))
    assert isinstance(first, Accepted) and isinstance(second, Duplicate)


def test_an_id_already_accepted_for_another_institution_is_rejected_not_counted() -> None:
    hist = history()
    hist.accepted["e-1"] = PriorAccepted("inst-b", "fpba.meeting.held.v1", "org-b")
    [verdict] = decide(meeting("e-1"), hist=hist)
    assert isinstance(verdict, Rejected) and verdict.reasons[0].field == "id"


def test_compliance_incidents_come_only_from_the_regulator() -> None:
    incident = raw(
        "c-1",
        "fpba.compliance.incident.v1",
        {"institution_id": "inst-a", "severity": "major", "occurred_at": "2026-10-01T10:00:00+08:00"},
    )
    [from_key] = decide(incident)
    [from_regulator] = decide(incident, arr=arrival(institution=None, role=Role.REGULATOR))
    assert isinstance(from_key, Rejected) and from_key.reasons[0].field == "type"
    assert isinstance(from_regulator, Accepted) and from_regulator.event.institutionid == "inst-a"


def test_a_member_of_another_institution_is_rejected_for_learning() -> None:
    [verdict] = decide(learning("l-1", member="m-b"))
    assert isinstance(verdict, Rejected) and verdict.reasons[0].field == "data.member_id"


def test_a_branch_secretary_reports_only_for_their_own_branch() -> None:
    [verdict] = decide(meeting(), arr=arrival(role=Role.BRANCH_SECRETARY, organization="org-x"))
    assert isinstance(verdict, Rejected) and "own branch" in verdict.reason_text


def test_an_institutionid_naming_another_institution_is_rejected() -> None:
    item = meeting()
    item.raw["institutionid"] = "inst-b"  # type: ignore[index]
    [verdict] = decide(item)
    assert isinstance(verdict, Rejected) and verdict.reasons[0].field == "institutionid"


def test_implausible_meetings_are_flagged_not_dropped() -> None:
    empty, crowded = decide(meeting("e-1", attendees=()), meeting("e-2", attendees=("m-1", "m-2", "m-b")))
    assert isinstance(empty, Accepted) and NO_ATTENDEES in (empty.event.flags or "")
    assert isinstance(crowded, Accepted) and ATTENDANCE_ABOVE_MEMBERS in (crowded.event.flags or "")


def test_reused_minutes_and_photos_are_flagged_across_meetings() -> None:
    first, second = decide(
        meeting("e-1", minutes_hash="h1", photo_hashes=["p1"]),
        meeting("e-2", held_at="2026-10-13T09:00:00+08:00", minutes_hash="h1", photo_hashes=["p1"]),
    )
    assert isinstance(first, Accepted) and first.event.flags is None
    assert isinstance(second, Accepted) and second.event.flags == f"{MINUTES_REUSED},{PHOTO_REUSED}"


def test_a_meeting_at_the_same_time_with_the_same_attendees_is_flagged_as_a_duplicate() -> None:
    first, again, other_time, other_people, combined = decide(
        meeting("e-1", attendees=("m-1", "m-2")),
        meeting("e-2", attendees=("m-2", "m-1"), held_at="2026-10-12T01:00:00Z"),  # the same instant
        meeting("e-3", held_at="2026-10-12T10:00:00+08:00"),
        meeting("e-4", attendees=("m-1",)),
        meeting("e-5", meeting_kind="theme_party_day"),  # one sitting for two kinds: 委员会暨主题党日
    )
    assert isinstance(first, Accepted) and first.flags == []
    assert isinstance(again, Accepted) and again.flags == [DUPLICATE_MEETING]
    for other in (other_time, other_people, combined):
        assert isinstance(other, Accepted) and other.flags == []


def test_a_duplicate_of_a_meeting_accepted_before_is_flagged_through_the_history() -> None:
    parsed = parse(meeting("e-1"))
    needs = needs_of([parsed], arrival())  # type: ignore[list-item]
    (key,) = needs.meeting_keys

    def earlier():  # type: ignore[no-untyped-def]
        found = history()
        found.meeting_keys[key] = {"e-0"}
        found.accepted["e-0"] = PriorAccepted("inst-a", "fpba.meeting.held.v1", "org-a")
        return found

    (again,) = decide(meeting("e-1"), hist=earlier())
    assert isinstance(again, Accepted) and again.flags == [DUPLICATE_MEETING]
    fixed = meeting("e-2", topic="更正")
    fixed.raw["supersedes"] = "e-0"  # type: ignore[index]
    (correction,) = decide(fixed, hist=earlier())  # the same meeting corrected is not its own duplicate
    assert isinstance(correction, Accepted) and correction.flags == []


def test_attendees_on_another_branchs_roll_are_flagged_off_roll() -> None:
    (foreign,) = decide(meeting("e-1", attendees=("m-1", "m-b")))
    assert isinstance(foreign, Accepted) and OFF_ROLL_ATTENDEES in foreign.flags
    (own,) = decide(meeting("e-2", attendees=("m-1", "m-2")))
    assert isinstance(own, Accepted) and own.flags == []


def test_more_than_24_hours_of_learning_in_a_day_is_flagged() -> None:
    hist = history()
    hist.learning_minutes[("m-1", "2026-10-12")] = 1400
    [verdict] = decide(learning("l-1", minutes=60), hist=hist)
    assert isinstance(verdict, Accepted) and verdict.event.flags == LEARNING_OVER_24H


def test_a_time_a_few_hours_ahead_is_flagged_but_accepted() -> None:
    ahead = (NOW + timedelta(hours=3)).isoformat()
    [verdict] = decide(meeting(held_at=ahead))
    assert isinstance(verdict, Accepted) and FUTURE_TIME in (verdict.event.flags or "")


def test_an_event_more_than_the_tolerance_ahead_of_now_is_refused_with_its_reason() -> None:
    [verdict] = decide(meeting(held_at="2027-03-10T09:00:00+08:00"))
    assert isinstance(verdict, Rejected)
    assert [r.field for r in verdict.reasons] == ["data.held_at"]
    assert verdict.reasons[0].reason.startswith("事件时间晚于当前时间")


def test_the_tolerance_is_the_assessors_setting() -> None:
    item = meeting(held_at=(NOW + timedelta(hours=3)).isoformat())
    strict = Assessor(arrival(), reference(), history(), future_tolerance=timedelta(hours=1))
    assert isinstance(strict.assess(parse(item)), Rejected)


def test_the_settings_refuse_events_a_day_ahead_by_default() -> None:
    assert ActivitySettings().future_tolerance_s == 24 * 3600


def test_an_event_of_an_ended_quarter_is_accepted_and_marked_late() -> None:
    [verdict] = decide(meeting(held_at="2026-09-20T09:00:00+08:00"))
    assert isinstance(verdict, Accepted) and verdict.event.late is True


def test_a_correction_supersedes_an_accepted_event_of_the_same_subject_only() -> None:
    hist = history()
    hist.accepted["e-1"] = PriorAccepted("inst-a", "fpba.meeting.held.v1", "org-a")
    ok = meeting("e-2", minutes_hash=None)
    ok.raw["supersedes"] = "e-1"  # type: ignore[index]
    wrong = learning("l-9")
    wrong.raw["supersedes"] = "e-1"  # type: ignore[index]
    good, bad = decide(ok, wrong, hist=hist)
    assert isinstance(good, Accepted) and good.event.supersedes == "e-1"
    assert isinstance(bad, Rejected) and bad.reasons[0].field == "supersedes"


def test_a_bad_payload_names_the_field_at_fault() -> None:
    [verdict] = decide(meeting(meeting_kind="picnic"))
    assert isinstance(verdict, Rejected) and verdict.reasons[0].field == "data.meeting_kind"


def test_needs_name_every_organisation_member_and_id_to_load() -> None:
    parsed = [parse(meeting("e-1", minutes_hash="h")), parse(learning("l-1"))]
    needs = needs_of([p for p in parsed if not isinstance(p, Rejected)], arrival())
    assert needs.organization_ids == {"org-a"} and needs.member_ids == {"m-1", "m-2"}
    assert needs.event_ids == {"e-1", "l-1"} and needs.minutes_hashes == {"h"}
    assert needs.learning_days == {("m-1", "2026-10-12")}


def test_a_joint_branch_member_may_be_reported_by_any_institution_the_joint_branch_covers() -> None:
    (covered,) = decide(learning("l-joint", member="m-joint"))
    assert isinstance(covered, Accepted)
    (foreign,) = decide(learning("l-foreign", member="m-b"))
    assert isinstance(foreign, Rejected) and foreign.reasons[0].field == "data.member_id"
