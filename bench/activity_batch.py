"""Throughput of the activity service's L2 batch API against a raw aiokafka producer, same broker,
same run: ``python bench/activity_batch.py [--batches 5 --size 5000 --kind meeting|learning]``; then
one-event requests (`--singles`, `--parallel` at a time) with concurrent ones sharing an ingestion pass,
against a pass per request.

Uses KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI when set; otherwise starts Kafka and FerretDB with
`alliance_localinfra.local_infra()`. The service runs in-process under uvicorn on a free port and is
called over real HTTP; a batch is answered only after its accepted events are acknowledged by
Kafka (acks=all), so the figure is end to end: parse, check, store, publish."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import cpu
import httpx
from aiokafka import AIOKafkaProducer
from alliance_activity.app import create_app
from alliance_activity.settings import ActivitySettings
from alliance_localinfra import create_topics, local_infra
from alliance_shared.auth import generate_api_key, hash_api_key
from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import REGISTRY_EVENTS, TOPICS
from alliance_shared.kafka.producer import BATCH_BYTES, EventPublisher, Outgoing
from alliance_shared.pii import PiiVault
from alliance_shared.testing import namespace, serving, wait_for

# members who report learning: a big institution's roster, so that a batch's plausibility check
# reads what its members reported that day, as in the city (30 members made every batch read them all)
LEARNERS = 5000


async def seed(settings: ActivitySettings, db: Any) -> str:
    """One institution, one branch of 30 members (the meetings' attendees) and LEARNERS more members
    of another branch (who report learning), one API key; returns the key."""
    key_id, api_key = generate_api_key()
    now = datetime.now(UTC)
    payloads: list[Any] = [
        reg.InstitutionRegistered(
            institution_id="bench-inst",
            uscc="91440300MA5DXXXX0X",
            name="bench",
            classification=reg.InstitutionClassification(
                ownership="state_owned", party_org_status="established_complete", reporting_level="L2"
            ),
            effective_from=date(2020, 1, 1),
        ),
        reg.ApiKeyIssued(
            institution_id="bench-inst",
            key_id=key_id,
            key_hash=hash_api_key(api_key),
            sealed_key=PiiVault(settings.pii_encryption_key).seal(api_key),
            prefix=api_key[:10],
            issued_at=now,
        ),
        reg.OrganizationOpened(
            organization_id="bench-org",
            institution_id="bench-inst",
            institution_ids=["bench-inst"],
            name="党支部",
            kind="branch",
            established_at=date(2020, 1, 1),
        ),
        *(
            reg.MemberRegistered(
                member_id=member_id,
                organization_id="bench-org",
                institution_id="bench-inst",
                status="full",
                joined_at=date(2020, 1, 1),
            )
            for member_id in [*(f"bm-{i}" for i in range(30)), *(f"bl-{i}" for i in range(LEARNERS))]
        ),
    ]
    publisher = EventPublisher(settings.kafka_bootstrap_servers, topic_prefix=settings.kafka_topic_prefix)
    await publisher.start()
    await publisher.publish_many(
        [Outgoing(REGISTRY_EVENTS, envelope(p, source="/bench"), p.ordering_key()) for p in payloads]
    )
    await publisher.stop()

    async def projected() -> bool:
        return (
            await db["members"].count_documents({}) == 30 + LEARNERS and await db["api_keys"].count_documents({}) == 1
        )

    await wait_for(projected, timeout_s=60, what="the registry projection")
    return api_key


def batch(run: int, size: int, kind: str = "meeting") -> list[dict[str, Any]]:
    if kind == "learning":  # a learning platform's export: LEARNERS members, a day each, up to 60 days back
        today = datetime.now(UTC).date()
        return [
            {
                "specversion": "1.0",
                "id": f"bench-{run}-{i:05d}",
                "source": "/bench",
                "type": "fpba.learning.completed.v1",
                "data": {
                    "member_id": f"bl-{(run * size + i) % LEARNERS}",
                    "date": (today - timedelta(days=1 + (run * size + i) // LEARNERS % 60)).isoformat(),
                    "minutes": 20 + i % 40,
                    "course": "学习贯彻党的二十大精神",
                },
            }
            for i in range(size)
        ]
    start = datetime.now(UTC) - timedelta(days=2)
    return [
        {
            "specversion": "1.0",
            "id": f"bench-{run}-{i:05d}",
            "source": "/bench",
            "type": "fpba.meeting.held.v1",
            "data": {
                "organization_id": "bench-org",
                "meeting_kind": "branch_committee_meeting",
                "held_at": (start + timedelta(seconds=i)).isoformat(),
                "attendee_ids": [f"bm-{j}" for j in range(i % 30)],
                "expected_count": 30,
                "topic": "学习贯彻党的二十大精神",
            },
        }
        for i in range(size)
    ]


async def bench_api(
    settings: ActivitySettings, batches: int, size: int, kind: str = "meeting"
) -> tuple[float, Counter[str]]:
    app = create_app(settings)
    async with serving(app, what="the activity service to serve", timeout_s=30) as port:
        api_key = await seed(settings, app.state.runtime.db)
        bodies = [json.dumps(batch(r, size, kind)).encode() for r in range(batches)]
        headers = {"X-Api-Key": api_key, "Content-Type": "application/cloudevents-batch+json"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            started = time.perf_counter()
            with cpu.spent() as used:
                for body in bodies:
                    answer = await client.post("/api/v1/events", content=body, headers=headers)
                    assert answer.status_code == 202, (answer.status_code, answer.text[:800])
                    result = answer.json()
                    assert answer.status_code == 202 and result["accepted"] == size, answer.text[:500]
            elapsed = time.perf_counter() - started
        await app.state.runtime.mongo.drop_database(settings.database_name)
        return elapsed, used


async def bench_singles(settings: ActivitySettings, requests: int, parallel: int) -> tuple[float, Counter[str]]:
    """`requests` one-event requests (a webhook's size), `parallel` at a time, as many institutions'
    systems send them at once."""
    app = create_app(settings)
    async with serving(app, what="the activity service to serve", timeout_s=30) as port:
        api_key = await seed(settings, app.state.runtime.db)
        bodies = [json.dumps(e).encode() for e in batch(7, requests)]
        headers = {"X-Api-Key": api_key, "Content-Type": "application/cloudevents+json"}
        gate = asyncio.Semaphore(parallel)
        limits = httpx.Limits(max_connections=parallel, max_keepalive_connections=parallel)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600, limits=limits) as client:

            async def one(body: bytes) -> None:
                async with gate:
                    answer = await client.post("/api/v1/events", content=body, headers=headers)
                    assert answer.status_code == 202 and answer.json()["accepted"] == 1, answer.text[:500]

            started = time.perf_counter()
            with cpu.spent() as used:
                await asyncio.gather(*(one(b) for b in bodies))
            elapsed = time.perf_counter() - started
        await app.state.runtime.mongo.drop_database(settings.database_name)
        return elapsed, used


async def bench_raw_producer(bootstrap: str, topic: str, batches: int, size: int) -> float:
    """The same number of messages of the same shape, idempotent and acks=all, no service at all."""
    sample = CloudEvent.from_structured(batch(0, 1)[0] | {"channel": "batch", "institutionid": "bench-inst"})
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=BATCH_BYTES
    )
    await producer.start()
    try:
        started = time.perf_counter()
        for r in range(batches):
            futures = [
                await producer.send(
                    topic,
                    value=sample.kafka_value(),
                    key=b"bench-org",
                    headers=sample.with_extensions(id=f"raw-{r}-{i}").to_kafka_headers(),
                )
                for i in range(size)
            ]
            await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


def cpu_per_event(label: str, used: Counter[str], events: int) -> str:
    """CPU per event by server ("python": the service and this client, in one process)."""
    servers = ("python", "ferretdb", "postgresql", "kafka")
    return f"  CPU per event, {label}: " + ", ".join(f"{name} {used[name] / events * 1e6:,.0f} µs" for name in servers)


async def main(batches: int, size: int, kind: str = "meeting", singles: int = 0, parallel: int = 24) -> None:
    with local_infra() as infra:  # the servers named by KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI, or its own
        bootstrap, mongodb_uri = infra.kafka_bootstrap_servers, infra.mongodb_uri
        ns = namespace("bench")
        settings = ActivitySettings(
            kafka_bootstrap_servers=bootstrap,
            mongodb_uri=mongodb_uri,
            kafka_topic_prefix=f"{ns}.",
            mongodb_database=ns.replace("-", "_"),
            environment="test",
        )
        create_topics(bootstrap, [f"{ns}.{t}" for t in TOPICS] + [f"{ns}.raw"], partitions=3)
        total = batches * size
        api_s, api_cpu = await bench_api(settings, batches, size, kind)
        raw_s = await bench_raw_producer(bootstrap, f"{ns}.raw", batches, size)
        api_rate, raw_rate = total / api_s, total / raw_s
        print(f"events: {batches} batches x {size} = {total} ({kind})")
        print(f"batch API (HTTP -> checks -> store -> Kafka acks=all): {api_s:.2f} s, {api_rate:,.0f} events/s")
        print(f"raw aiokafka producer (acks=all, idempotent):          {raw_s:.2f} s, {raw_rate:,.0f} events/s")
        print(f"ratio API / raw producer: {api_rate / raw_rate:.2f}")
        print(cpu_per_event("batch API", api_cpu, total))
        if singles:
            together, shared_cpu = await bench_singles(settings, singles, parallel)
            alone, alone_cpu = await bench_singles(
                settings.model_copy(update={"ingest_pass_max_events": 1}), singles, parallel
            )
            print(
                f"one-event requests, {parallel} at a time ({singles}), concurrent ones in a shared pass: "
                f"{together:.2f} s, {singles / together:,.0f} events/s"
            )
            print(
                f"the same, a pass per request (ingest_pass_max_events=1): "
                f"{alone:.2f} s, {singles / alone:,.0f} events/s · ratio shared / alone: {alone / together:.1f}"
            )
            for label, used in (("shared pass", shared_cpu), ("pass per request", alone_cpu)):
                print(cpu_per_event(label, used, singles))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--kind", choices=("meeting", "learning"), default="meeting")
    parser.add_argument("--singles", type=int, default=2000, help="one-event requests (0: none)")
    parser.add_argument("--parallel", type=int, default=24, help="of the one-event requests")
    args = parser.parse_args()
    asyncio.run(main(args.batches, args.size, args.kind, args.singles, args.parallel))
