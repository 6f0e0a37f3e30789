"""Conformance before going live: the signed webhook and an L3 Kafka message dry-run check by check
(timestamp, signature, envelope, data) and answer what the real channel would do — and nothing of
it is stored or published: every collection keeps its count, and the same events sent for real
afterwards are accepted, not duplicates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alliance_shared.auth import webhook_signature
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import ACTIVITY_EVENTS, ACTIVITY_INGEST, ACTIVITY_REJECTED
from alliance_shared.contracts.vocabulary import Role

from .conftest import Platform, meeting_event

pytestmark = pytest.mark.integration


async def counts(platform: Platform) -> dict[str, int]:
    db = platform.runtime.db
    return {name: await db[name].count_documents({}) for name in sorted(await db.list_collection_names())}


def signed(platform: Platform, body: bytes, *, key_of: str = "inst-a", ts: int | None = None) -> dict[str, str]:
    stamp = str(ts if ts is not None else int(platform.clock.now().timestamp()))
    return {
        "X-Timestamp": stamp,
        "X-Signature": webhook_signature(platform.keys[key_of], stamp, body),
        "Content-Type": "application/cloudevents+json",
    }


def checks(answer: dict[str, Any]) -> dict[str, bool]:
    return {c["check"]: c["ok"] for c in answer["checks"]}


def kafka_message(raw: dict[str, Any], institution: str | None = "inst-a", key: str | None = "org-a") -> dict[str, Any]:
    event = CloudEvent.from_structured(raw)
    if institution:
        event = event.with_extensions(institutionid=institution)
    headers = {k: v.decode() for k, v in event.to_kafka_headers()}
    return {"topic": ACTIVITY_INGEST, "key": key, "headers": headers, "value": event.data}


async def test_a_signed_webhook_dry_run_says_what_would_happen_and_stores_nothing(platform: Platform) -> None:
    before = await counts(platform)
    good = json.dumps(meeting_event("conf-hook-1")).encode()
    ok = await platform.client.post("/api/v1/webhooks/inst-a/validate", content=good, headers=signed(platform, good))
    assert ok.status_code == 200, ok.text
    answer = ok.json()
    assert checks(answer) == {"timestamp": True, "signature": True, "envelope": True, "data": True}
    assert (answer["would_answer"], answer["accepted"], answer["stored"], answer["published"]) == (202, 1, False, False)
    assert answer["would_publish"] == {ACTIVITY_EVENTS: 1}

    # B's key for A, a stale timestamp, a malformed signature: 401 as the webhook would, told why
    refused = await platform.client.post(
        "/api/v1/webhooks/inst-a/validate", content=good, headers=signed(platform, good, key_of="inst-b")
    )
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    foreign = refused.json()["error"]
    assert foreign["would_answer"] == 401 and foreign["field"] == "X-Signature"
    assert checks(foreign)["signature"] is False
    assert checks(foreign)["data"] is False and "accepted" not in foreign  # not checked unsigned
    sig = next(c for c in foreign["checks"] if c["check"] == "signature")
    assert sig["detail"].startswith("签名与该机构的有效 API 密钥均不匹配") and sig["body_bytes"] == len(good)
    assert "expected" not in json.dumps(sig)
    stale_ts = int(platform.clock.now().timestamp()) - 301
    stale = (
        await platform.client.post(
            "/api/v1/webhooks/inst-a/validate", content=good, headers=signed(platform, good, ts=stale_ts)
        )
    ).json()["error"]
    timestamp = next(c for c in stale["checks"] if c["check"] == "timestamp")
    assert stale["would_answer"] == 401 and timestamp["ok"] is False and timestamp["skew_s"] == 301
    shape = await platform.client.post(
        "/api/v1/webhooks/inst-a/validate", content=good, headers=signed(platform, good) | {"X-Signature": "sha256=00"}
    )
    assert shape.status_code == 401 and checks(shape.json()["error"])["signature"] is False

    # signed, but an unknown branch and a bad envelope: the data check names the event, the envelope the field
    unknown = json.dumps(meeting_event("conf-hook-2", org="org-elsewhere")).encode()
    told = (
        await platform.client.post(
            "/api/v1/webhooks/inst-a/validate", content=unknown, headers=signed(platform, unknown)
        )
    ).json()
    assert told["would_answer"] == 202 and checks(told)["data"] is False
    assert [r["id"] for r in told["rejected"]] == ["conf-hook-2"] and told["would_publish"] == {ACTIVITY_REJECTED: 1}
    bad = json.dumps({**meeting_event("conf-hook-3"), "specversion": "0.3"}).encode()
    wrong = (
        await platform.client.post("/api/v1/webhooks/inst-a/validate", content=bad, headers=signed(platform, bad))
    ).json()
    assert checks(wrong)["envelope"] is False and "specversion" in json.dumps(wrong["checks"])

    assert await counts(platform) == before
    real = await platform.client.post("/api/v1/webhooks/inst-a", content=good, headers=signed(platform, good))
    assert real.status_code == 202 and real.json()["accepted"] == 1 and real.json()["duplicates"] == 0


async def test_an_l3_kafka_message_dry_run_checks_headers_key_and_data_and_stores_nothing(platform: Platform) -> None:
    before = await counts(platform)
    key = platform.key("inst-a")
    message = kafka_message(meeting_event("conf-l3-1"))
    ok = await platform.client.post("/api/v1/kafka-messages:validate", json=message, headers=key)
    assert ok.status_code == 200, ok.text
    answer = ok.json()
    assert answer["would_consume"] == "accepted" and answer["accepted"] == 1 and answer["stored"] is False
    assert checks(answer) == {"ce_institutionid": True, "envelope": True, "data": True}

    # keyed by something else than the organisation: accepted, with a warning on the key
    rekeyed = (
        await platform.client.post(
            "/api/v1/kafka-messages:validate", headers=key, json=kafka_message(meeting_event("conf-l3-2"), key="x")
        )
    ).json()
    warned = next(c for c in rekeyed["checks"] if c["check"] == "key")
    assert warned["warning"] is True and "org-a" in warned["detail"]
    # no ce_institutionid header: the consumer could not tell the institution
    orphan = (
        await platform.client.post(
            "/api/v1/kafka-messages:validate",
            headers=key,
            json=kafka_message(meeting_event("conf-l3-3"), institution=None),
        )
    ).json()
    assert orphan["would_consume"] == "rejected" and checks(orphan)["ce_institutionid"] is False
    # another institution's header: the broker's ACLs would refuse it
    foreign = await platform.client.post(
        "/api/v1/kafka-messages:validate",
        headers=key,
        json=kafka_message(meeting_event("conf-l3-4"), institution="inst-b"),
    )
    assert foreign.status_code == 403 and foreign.json()["error"]["field"] == "headers.ce_institutionid"
    # no ce_* headers at all: not a binary-mode CloudEvent
    bare = await platform.client.post(
        "/api/v1/kafka-messages:validate",
        headers=key,
        json={"key": "org-a", "headers": {"ce_institutionid": "inst-a"}, "value": {}},
    )
    assert bare.json()["would_consume"] == "rejected_to_dlq" and checks(bare.json())["envelope"] is False
    # a branch the registry does not know for the institution: the data check says so, per event
    stranger = (
        await platform.client.post(
            "/api/v1/kafka-messages:validate",
            headers=key,
            json=kafka_message(meeting_event("conf-l3-5", org="org-elsewhere"), key="org-elsewhere"),
        )
    ).json()
    assert stranger["would_consume"] == "rejected" and stranger["rejected"][0]["id"] == "conf-l3-5"
    # a branch secretary is not the institution's developer
    secretary = platform.person(Role.BRANCH_SECRETARY, "inst-a", "org-a")
    assert (
        await platform.client.post("/api/v1/kafka-messages:validate", json=message, headers=secretary)
    ).status_code == 403

    assert await counts(platform) == before
    real = await platform.client.post(
        "/api/v1/events",
        headers=key | {"Content-Type": "application/cloudevents+json"},
        content=json.dumps(meeting_event("conf-l3-1")),
    )
    assert real.status_code == 202 and real.json()["accepted"] == 1
