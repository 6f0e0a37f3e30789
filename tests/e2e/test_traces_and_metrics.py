"""What ops see: one request is one trace from the HTTP edge through Kafka into every consumer
(W3C trace context in the message headers, kept across the outbox), and the platform's figures on
`/metrics`."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import pytest
from alliance_shared.testing import wait_for
from e2e_api import Platform, days_ago, expect, meeting, token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


async def spans_of(outside: Any, trace_id: str, services: set[str], what: str) -> list[Any]:
    async def complete() -> list[Any] | None:
        spans = outside.collector.trace(trace_id)
        return spans if {s.service for s in spans} >= services else None

    return await wait_for(complete, timeout_s=45, interval_s=0.5, what=what)


async def test_one_activity_request_is_one_trace_through_kafka_into_evaluation_and_notification(
        platform: Platform, alliance: Any, outside: Any) -> None:
    trace_id, parent = traceparent()
    event = meeting(alliance.branch, "theme_party_day", days_ago(0.5), alliance.members[:3], source="/e2e/trace")
    async with platform.client("activity", api_key=alliance.api_key) as activity:
        answer = expect(await activity.post("/api/v1/events", content=json.dumps(event), headers={
            "Content-Type": "application/cloudevents+json", "traceparent": parent}), 202)
    assert answer["accepted"] == 1
    spans = await spans_of(outside, trace_id, {"activity", "evaluation", "notification"},
                           "activity → Kafka → evaluation and notification in one trace")
    by_service = {s.service: s for s in spans}
    assert any(s.name == "activity.events.v1 publish" for s in spans if s.service == "activity")
    consumers = [s for s in spans if s.name == "activity.events.v1 process"]
    assert {s.service for s in consumers} >= {"evaluation", "notification"}
    span_ids = {s.span_id for s in spans}
    assert all(s.parent_span_id in span_ids for s in consumers), "each consumer span continues a producer span"
    assert by_service["activity"].trace_id == trace_id


async def test_a_registry_change_keeps_its_trace_through_the_outbox_relay(
        platform: Platform, alliance: Any, outside: Any) -> None:
    trace_id, parent = traceparent()
    async with platform.client("registry", token=token("secretariat")) as registry:
        expect(await registry.post("/api/v1/organizations", headers={"traceparent": parent}, json={
            "name": "临时党支部（审计项目组）", "kind": "temporary_branch",
            "institution_ids": [alliance.institution_id], "parent_id": alliance.committee,
            "secretary": {"name": "书记", "phone": "13900000009"}}), 201)
    spans = await spans_of(outside, trace_id, {"registry", "activity", "evaluation", "notification"},
                           "registry → outbox → Kafka → the three consumers in one trace")
    assert {s.service for s in spans if s.name == "registry.events.v1 process"} >= {
        "activity", "evaluation", "notification"}


METRICS = {
    "activity": [r'alliance_activity_ingested_total\{channel="batch",outcome="accepted"\} [1-9]',
                 r'alliance_activity_ingested_total\{channel="batch",outcome="rejected"\} [1-9]',
                 r"alliance_consumer_lag\{", r"alliance_events_published_total\{"],
    "evaluation": [r"alliance_scoring_seconds_count\{trigger=\"events\"\} [1-9]", r"alliance_consumer_lag\{",
                   r"alliance_handler_seconds_count\{"],
    "notification": [r'alliance_deliveries_total\{channel="sms",status="sent"\} [1-9]',
                     r'alliance_deliveries_total\{channel="email",status="sent"\} [1-9]', r"alliance_consumer_lag\{"],
    "registry": [r"alliance_events_published_total\{topic=\"registry.events.v1\""],
}


async def test_ingest_rate_rejects_consumer_lag_scoring_time_and_deliveries_are_on_metrics(
        platform: Platform, alliance: Any) -> None:
    for service, patterns in METRICS.items():
        async with platform.client(service) as client:
            text = (await client.get("/metrics")).text
        missing = [p for p in patterns if not re.search(p, text)]
        assert not missing, f"{service} /metrics lacks {missing}"
