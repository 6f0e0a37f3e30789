"""The published contract documents, generated from the payload models: one JSON Schema per event
type and an AsyncAPI 3.0 document for all topics. Checked in under `published/`; a test fails when
they drift from the models. Regenerate with ``python -m alliance_shared.contracts.published``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .activity import ACTIVITY_KINDS
from .base import EventPayload
from .catalog import ALL_PAYLOADS
from .envelope import EXTENSIONS
from .topics import ACTIVITY_INGEST, TOPICS, dlq

# the names of alliance_shared.kafka.principal's headers (not imported: the contracts import no Kafka client)
KEY_ID_HEADER = "alliance_keyid"
SIGNATURE_HEADER = "alliance_signature"

PUBLISHED_DIR = Path(__file__).parent / "published"
SCHEMA_BASE = "https://alliance.example/schemas/"


def schema_of(payload: type[EventPayload]) -> dict[str, Any]:
    schema = payload.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"{SCHEMA_BASE}{payload.event_type}.json"
    schema["x-cloudevents-type"] = payload.event_type
    schema["x-kafka-topic"] = payload.kafka_topic
    return schema


def _topic_payloads() -> dict[str, list[type[EventPayload]]]:
    by_topic: dict[str, list[type[EventPayload]]] = {t: [] for t in TOPICS}
    for payload in ALL_PAYLOADS:
        by_topic[payload.kafka_topic].append(payload)
    by_topic[ACTIVITY_INGEST] = list(ACTIVITY_KINDS)  # institutions' own systems produce these
    return by_topic


def asyncapi() -> dict[str, Any]:
    headers_schema = {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type"],
        "properties": {f"ce_{name}": {"type": "string"} for name in
                       ("specversion", "id", "source", "type", "subject", "time", *EXTENSIONS)}
        | {"content-type": {"type": "string"}, "traceparent": {"type": "string"},
           "tracestate": {"type": "string"}},
    }
    # an institution's own producer proves per record who wrote it (alliance_shared.kafka.principal)
    l3_headers = {
        "allOf": [
            {"$ref": "#/components/schemas/CloudEventsBinaryHeaders"},
            {
                "type": "object",
                "required": ["ce_institutionid", KEY_ID_HEADER, SIGNATURE_HEADER],
                "properties": {
                    KEY_ID_HEADER: {"type": "string", "description": "签名所用 API 密钥的 key_id / the key_id of "
                                    "the institution's API key that signed the record (issued by registry)"},
                    SIGNATURE_HEADER: {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$",
                                       "description": "sha256=<hex>: HMAC-SHA256 keyed with that API key over "
                                       'ce_id "\\n" ce_type "\\n" ce_institutionid "\\n" <the record\'s value as '
                                       "sent>; the key must be live and be ce_institutionid's, else the record is "
                                       "dead-lettered (L3_PRINCIPAL_CHECK)"},
                },
            },
        ],
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic, payloads in _topic_payloads().items():
        key = topic.replace(".", "_")
        l3 = topic == ACTIVITY_INGEST
        names = {p: f"L3{p.__name__}" if l3 else p.__name__ for p in payloads}
        headers = "L3IngestHeaders" if l3 else "CloudEventsBinaryHeaders"
        channels[key] = {
            "address": topic,
            "description": (f"institutions' own systems, each record signed (headers {KEY_ID_HEADER}, "
                            f"{SIGNATURE_HEADER}); " if l3 else "") + f"dead letters go to {dlq(topic)}",
            "messages": {names[p]: {"$ref": f"#/components/messages/{names[p]}"} for p in payloads},
        }
        operations[f"publish_{key}"] = {"action": "send", "channel": {"$ref": f"#/channels/{key}"}}
        for p in payloads:
            messages[names[p]] = {
                "name": p.event_type,
                "title": names[p],
                "summary": (p.__doc__ or "").strip().splitlines()[0] if p.__doc__ else p.__name__,
                "contentType": "application/json",
                "headers": {"$ref": f"#/components/schemas/{headers}"},
                "payload": {"$ref": f"schemas/{p.event_type}.json"},
                "bindings": {"kafka": {"bindingVersion": "0.5.0"}},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "市金融党建联盟平台事件 / Alliance platform events", "version": "1.0.0",
                 "description": "CloudEvents 1.0, Kafka protocol binding, binary content mode."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages,
                       "schemas": {"CloudEventsBinaryHeaders": headers_schema, "L3IngestHeaders": l3_headers}},
    }


def render() -> dict[str, str]:
    """Relative path → file content, for everything under `published/`."""
    files = {f"schemas/{p.event_type}.json": json.dumps(schema_of(p), ensure_ascii=False, indent=2) + "\n"
             for p in ALL_PAYLOADS}
    files["asyncapi.json"] = json.dumps(asyncapi(), ensure_ascii=False, indent=2) + "\n"
    return files


def write(target: Path = PUBLISHED_DIR) -> list[str]:
    files = render()
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for stale in (target / "schemas").glob("*.json"):
        if f"schemas/{stale.name}" not in files:
            stale.unlink()
    return sorted(files)


if __name__ == "__main__":
    for name in write():
        print(name)
