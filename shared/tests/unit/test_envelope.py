"""The CloudEvents envelope and its encodings."""

from datetime import UTC, datetime

import pytest
from alliance_shared.contracts.activity import MeetingHeld
from alliance_shared.contracts.catalog import envelope, parse_payload
from alliance_shared.contracts.envelope import CloudEvent, EnvelopeError, batch_body, parse_http_body

pytestmark = pytest.mark.unit


def meeting(**overrides: object) -> MeetingHeld:
    fields: dict[str, object] = dict(organization_id="org-1", meeting_kind="party_lesson",
                                     held_at=datetime(2026, 9, 1, 9, 30, tzinfo=UTC),
                                     attendee_ids=["m1", "m2"], expected_count=3, topic="学习党章")
    fields.update(overrides)
    return MeetingHeld.model_validate(fields)


def test_binary_mode_round_trip_keeps_every_attribute_and_the_data():
    event = envelope(meeting(), source="/institutions/i-1", institutionid="i-1", reportinglevel="L3",
                     channel="stream", late=True, flags="no_attendees")
    decoded = CloudEvent.from_kafka(event.to_kafka_headers(), event.kafka_value())
    assert decoded == event
    assert parse_payload(decoded) == meeting()


def test_binary_mode_headers_are_ce_prefixed_and_carry_the_content_type():
    event = envelope(meeting(), source="/x", institutionid="i-1")
    headers = dict(event.to_kafka_headers())
    assert headers["ce_type"] == b"fpba.meeting.held.v1"
    assert headers["ce_institutionid"] == b"i-1"
    assert headers["ce_subject"] == b"org-1"
    assert headers["content-type"] == b"application/json"
    assert "ce_data" not in headers


def test_structured_mode_kafka_message_is_accepted_too():
    event = envelope(meeting(), source="/x")
    decoded = CloudEvent.from_kafka([("content-type", b"application/cloudevents+json")],
                                    batch_body([event])[1:-1])
    assert decoded.id == event.id


def test_a_message_without_ce_headers_is_not_a_cloudevent():
    with pytest.raises(EnvelopeError) as err:
        CloudEvent.from_kafka([], b"{}")
    assert err.value.field == "ce_specversion"


def test_a_naive_time_is_rejected_with_the_field_named():
    with pytest.raises(EnvelopeError) as err:
        CloudEvent.from_structured({"specversion": "1.0", "id": "1", "source": "/s", "type": "t",
                                    "time": "2026-09-01T09:00:00"})
    assert err.value.field == "time"


def test_payload_errors_name_the_data_field():
    event = CloudEvent.new(type="fpba.meeting.held.v1", source="/s",
                           data={"organization_id": "o", "meeting_kind": "picnic",
                                 "held_at": "2026-09-01T09:00:00+08:00", "expected_count": 1})
    with pytest.raises(EnvelopeError) as err:
        parse_payload(event)
    assert err.value.field == "data.meeting_kind"


def test_unknown_types_are_refused_by_name():
    with pytest.raises(EnvelopeError) as err:
        parse_payload(CloudEvent.new(type="fpba.unknown.v1", source="/s", data={}))
    assert "fpba.unknown.v1" in err.value.reason


def test_http_batch_and_single_bodies_split_into_raw_events():
    events = [envelope(meeting(), source="/x") for _ in range(3)]
    assert len(parse_http_body("application/cloudevents-batch+json", batch_body(events))) == 3
    assert len(parse_http_body("application/cloudevents+json", batch_body(events[:1])[1:-1])) == 1
    with pytest.raises(EnvelopeError):
        parse_http_body("application/cloudevents-batch+json", b"{not json")
