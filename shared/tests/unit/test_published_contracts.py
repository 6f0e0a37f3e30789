"""The checked-in JSON Schemas and AsyncAPI document match the payload models."""

import json

import jsonschema
import pytest
from alliance_shared.contracts import published
from alliance_shared.contracts.catalog import ALL_PAYLOADS, BY_TYPE
from alliance_shared.contracts.topics import TOPICS

pytestmark = pytest.mark.unit


def test_checked_in_documents_match_the_models():
    rendered = published.render()
    stale = [rel for rel, text in rendered.items()
             if not (published.PUBLISHED_DIR / rel).exists()
             or (published.PUBLISHED_DIR / rel).read_text(encoding="utf-8") != text]
    extra = [p.name for p in (published.PUBLISHED_DIR / "schemas").glob("*.json")
             if f"schemas/{p.name}" not in rendered]
    assert not stale and not extra, (
        f"contracts drifted: {stale + extra}; run `python -m alliance_shared.contracts.published`")


def test_every_payload_is_frozen_past_tense_and_versioned():
    for payload in ALL_PAYLOADS:
        assert payload.model_config.get("frozen") is True, payload
        assert payload.event_type.startswith("fpba.") and payload.event_type.endswith(".v1"), payload
        assert payload.kafka_topic in TOPICS, payload
    assert len(BY_TYPE) == len(ALL_PAYLOADS), "two payloads share a type"


def test_asyncapi_names_every_topic_and_message():
    doc = json.loads((published.PUBLISHED_DIR / "asyncapi.json").read_text(encoding="utf-8"))
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == set(TOPICS)
    assert set(doc["components"]["messages"]) >= {p.__name__ for p in ALL_PAYLOADS}


def test_schemas_validate_what_the_models_emit_and_refuse_what_they_refuse():
    schema = json.loads((published.PUBLISHED_DIR / "schemas/fpba.meeting.held.v1.json").read_text())
    good = {"organization_id": "o", "meeting_kind": "party_lesson", "held_at": "2026-09-01T09:00:00+08:00",
            "attendee_ids": [], "expected_count": 3, "topic": ""}
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**good, "meeting_kind": "picnic"}, schema)


def test_the_ingest_topic_documents_the_signature_headers_the_consumer_checks():
    from alliance_shared.kafka import principal

    doc = json.loads((published.PUBLISHED_DIR / "asyncapi.json").read_text(encoding="utf-8"))
    l3 = doc["components"]["schemas"]["L3IngestHeaders"]["allOf"][1]
    assert set(l3["required"]) == {"ce_institutionid", principal.KEY_ID_HEADER, principal.SIGNATURE_HEADER}
    signature = principal.record_signature("key", "id-1", "fpba.meeting.held.v1", "inst-1", b"{}")
    assert jsonschema.Draft202012Validator({"pattern": l3["properties"][principal.SIGNATURE_HEADER]["pattern"]}
                                           ).is_valid(signature)
    ingest = doc["channels"]["activity_ingest_v1"]["messages"]
    assert ingest and all(
        doc["components"]["messages"][name]["headers"]["$ref"].endswith("/L3IngestHeaders") for name in ingest)
