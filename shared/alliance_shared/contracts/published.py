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
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic, payloads in _topic_payloads().items():
        key = topic.replace(".", "_")
        channels[key] = {
            "address": topic,
            "description": f"dead letters go to {dlq(topic)}",
            "messages": {p.__name__: {"$ref": f"#/components/messages/{p.__name__}"} for p in payloads},
        }
        operations[f"publish_{key}"] = {"action": "send", "channel": {"$ref": f"#/channels/{key}"}}
        for p in payloads:
            messages[p.__name__] = {
                "name": p.event_type,
                "title": p.__name__,
                "summary": (p.__doc__ or "").strip().splitlines()[0] if p.__doc__ else p.__name__,
                "contentType": "application/json",
                "headers": {"$ref": "#/components/schemas/CloudEventsBinaryHeaders"},
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
        "components": {"messages": messages, "schemas": {"CloudEventsBinaryHeaders": headers_schema}},
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
