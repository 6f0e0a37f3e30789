"""L1, L2 and L3 end in the same canonical events; a repeated id counts once across channels."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

import pytest
from alliance_shared.auth import webhook_signature
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import ACTIVITY_EVENTS, ACTIVITY_INGEST
from alliance_shared.kafka.principal import signed
from alliance_shared.kafka.producer import Outgoing
from openpyxl import load_workbook

from .conftest import SHANGHAI_MEETINGS, Platform, canonical, meeting_event, running

pytestmark = pytest.mark.integration


async def upload_xlsx(platform: Platform, rows: list[list[Any]], institution: str = "inst-a") -> dict[str, Any]:
    """Download the real template, fill it in as a secretary would, upload it."""
    template = await platform.client.get("/api/v1/templates/meeting.xlsx")
    assert template.status_code == 200
    wb = load_workbook(io.BytesIO(template.content))
    ws = wb["填报"]
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    answer = await platform.client.post(
        "/api/v1/uploads",
        headers=platform.key(institution),
        data={"kind": "meeting"},
        files={"file": ("三会一课.xlsx", out.getvalue(), "application/octet-stream")},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body.pop("upload_id")  # the upload's id: its events' provenance
    return body


def xlsx_rows() -> list[list[Any]]:
    # 事件编号, 党组织编号, 会议类型, 召开时间 (Beijing time, as typed), 参会党员编号, 应到人数, 会议主题
    return [
        [event_id, "org-a", "支部委员会", datetime.fromisoformat(held_at[:19]), "m-1,m-2", 3, "学习党章"]
        for event_id, held_at in SHANGHAI_MEETINGS
    ]


def api_events() -> list[dict[str, Any]]:
    return [meeting_event(event_id, held_at=held_at) for event_id, held_at in SHANGHAI_MEETINGS]


async def post_batch(platform: Platform, events: list[dict[str, Any]], institution: str = "inst-a") -> Any:
    return await platform.client.post(
        "/api/v1/events",
        headers=platform.key(institution) | {"Content-Type": "application/cloudevents-batch+json"},
        content=json.dumps(events),
    )


async def produce_l3(platform: Platform, events: list[dict[str, Any]], institution: str = "inst-a",
                     key_of: str | None = None) -> None:
    """Binary-mode records claiming `institution`, signed with the API key of `key_of` (default: its own)."""
    signer = key_of or institution
    for raw in events:
        event = CloudEvent.from_structured(raw).with_extensions(institutionid=institution)
        item = Outgoing(ACTIVITY_INGEST, event, raw["data"]["organization_id"])
        await platform.publisher.publish_many([signed(item, platform.key_ids[signer], platform.keys[signer])])


async def signed_webhook(
    platform: Platform,
    body: bytes,
    institution: str = "inst-a",
    key_of: str | None = None,
    ts: int | None = None,
) -> Any:
    stamp = str(ts if ts is not None else int(platform.clock.now().timestamp()))
    signature = webhook_signature(platform.keys[key_of or institution], stamp, body)
    return await platform.client.post(
        f"/api/v1/webhooks/{institution}",
        content=body,
        headers={
            "X-Timestamp": stamp,
            "X-Signature": signature,
            "Content-Type": "application/cloudevents+json",
        },
    )


async def test_the_same_meetings_through_l1_l2_and_l3_produce_the_same_canonical_events(infra: Any) -> None:
    seen: dict[str, list[dict[str, Any]]] = {}
    for channel in ("upload", "batch", "stream"):
        async with running(infra) as platform, platform.reader(ACTIVITY_EVENTS) as reader:
            if channel == "upload":
                assert (await upload_xlsx(platform, xlsx_rows()))["accepted"] == 3
            elif channel == "batch":
                answer = await post_batch(platform, api_events())
                assert answer.status_code == 202 and answer.json()["accepted"] == 3
            else:
                await produce_l3(platform, api_events())
            events = await reader.wait_for_events(3)
            assert {e.channel for e in events} == {channel}
            seen[channel] = sorted((canonical(e) for e in events), key=lambda c: c["id"])
    assert seen["upload"] == seen["batch"] == seen["stream"]
    first = seen["batch"][0]
    assert first["institutionid"] == "inst-a" and first["reportinglevel"] == "L2"
    assert first["data"]["held_at"].endswith("Z") and first["late"] is False


async def test_duplicates_across_channels_count_once(platform: Platform) -> None:
    async with platform.reader(ACTIVITY_EVENTS) as reader:
        answer = await post_batch(platform, api_events()[:2])
        assert answer.json().pop("batch_id") and {k: v for k, v in answer.json().items() if k != "batch_id"} == {
            "accepted": 2, "duplicates": 0, "rejected": [], "flagged": []}
        assert await upload_xlsx(platform, xlsx_rows()[:2]) == {
            "accepted": 0,
            "duplicates": 2,
            "rejected": [],
            "flagged": [],
        }
        hook = await signed_webhook(platform, json.dumps(api_events()[0]).encode())
        assert hook.status_code == 202 and hook.json()["duplicates"] == 1
        await produce_l3(platform, [api_events()[1], api_events()[2]])  # one replay, then one new meeting
        events = await reader.wait_for_events(3)
    assert sorted(e.id for e in events) == sorted(i for i, _ in SHANGHAI_MEETINGS)
    assert await platform.db["submissions"].count_documents({"status": "accepted"}) == 3


async def test_an_event_for_another_institutions_branch_is_rejected_with_a_reason(platform: Platform) -> None:
    async with platform.reader("activity.rejected.v1") as rejected_topic:
        answer = await post_batch(platform, [meeting_event("foreign-1", org="org-b")])
        [rejection] = answer.json()["rejected"]
        assert answer.json()["accepted"] == 0 and rejection["id"] == "foreign-1"
        assert "another institution" in rejection["reason"] and "data.organization_id" in rejection["reason"]
        [published] = await rejected_topic.wait_for_events(1)
    assert published.type == "fpba.submission.rejected.v1"
    assert published.data["submission_id"] == "foreign-1" and published.data["institution_id"] == "inst-a"
    listed = await platform.client.get("/api/v1/submissions?status=rejected", headers=platform.key("inst-a"))
    [item] = listed.json()["items"]
    assert item["id"] == "foreign-1" and item["reasons"][0]["field"] == "data.organization_id"
    other = await platform.client.get("/api/v1/submissions?status=rejected", headers=platform.key("inst-b"))
    assert (other.json()["items"], other.json()["total"], other.json()["next_cursor"]) == ([], 0, None)


async def test_a_gbk_csv_upload_works_row_by_row(platform: Platform) -> None:
    text = (
        "党组织编号,会议类型,召开时间,参会党员编号,应到人数,会议主题\n"
        "org-a,党课,2026/10/15 14:30,m-1、m-2、m-3,3,讲党课\n"
        "org-a,野餐,2026/10/16 14:30,m-1,3,不合规\n"
        "org-b,党课,2026/10/16 14:30,m-b,1,别家支部\n"
    )
    answer = await platform.client.post(
        "/api/v1/uploads",
        headers=platform.key("inst-a"),
        data={"kind": "meeting"},
        files={"file": ("会议.csv", text.encode("gbk"), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 1 and [r["row"] for r in body["rejected"]] == [3, 4]
    assert "会议类型" in body["rejected"][0]["reason"]
    stored = await platform.db["submissions"].find_one({"status": "accepted"})
    assert stored["event"]["data"]["topic"] == "讲党课" and stored["channel"] == "upload"
    # provenance in the canonical event: which upload, which file, which row
    event = stored["event"]
    assert (event["batchid"], event["filename"], event["sourcerow"]) == (body["upload_id"], "会议.csv", 2)


async def test_the_webhook_refuses_stale_or_foreign_signatures_and_counts_replays_once(
    platform: Platform,
) -> None:
    body = json.dumps(meeting_event("hook-1")).encode()
    now = int(platform.clock.now().timestamp())
    assert (await signed_webhook(platform, body, ts=now - 301)).status_code == 401
    assert (await signed_webhook(platform, body, key_of="inst-b")).status_code == 401  # B's key for A
    forged = await platform.client.post(
        "/api/v1/webhooks/inst-a", content=body, headers={"X-Timestamp": str(now), "X-Signature": "sha256=00"}
    )
    assert forged.status_code == 401 and forged.json()["error"]["field"] == "X-Signature"
    assert (await signed_webhook(platform, body)).json()["accepted"] == 1
    again = (await signed_webhook(platform, body)).json()
    assert again.pop("batch_id")  # each call is a submission of its own
    assert again == {"accepted": 0, "duplicates": 1, "rejected": [], "flagged": []}


HEADER = "党组织编号,会议类型,召开时间,参会党员编号,应到人数,会议主题\n"


async def test_a_large_upload_streams_its_progress_and_ends_with_the_same_answer(platform: Platform) -> None:
    rows = [f"org-a,党课,2026/10/{1 + i % 19:02d} {8 + i % 10:02d}:{i % 60:02d},m-1,3,第{i}次\n" for i in range(1200)]
    rows[7] = "org-a,野餐,2026/10/16 14:30,m-1,3,不合规\n"
    answer = await platform.client.post(
        "/api/v1/uploads",
        headers=platform.key("inst-a") | {"Accept": "application/x-ndjson"},
        data={"kind": "meeting"},
        files={"file": ("会议.csv", (HEADER + "".join(rows)).encode("gbk"), "text/csv")},
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert [(line["phase"], line["rows"]) for line in lines[:-1]] == [
        ("reading", 500),
        ("reading", 1000),
        ("read", 1200),
        ("checked", 1200),
        ("stored", 1200),
        ("published", 1200),
    ]
    result = lines[-1]["result"]
    assert result["accepted"] == 1199 and result["duplicates"] == 0 and [r["row"] for r in result["rejected"]] == [9]
    assert await platform.db["submissions"].count_documents({"status": "accepted", "channel": "upload"}) == 1199


async def test_a_streamed_upload_without_rows_ends_with_the_error(platform: Platform) -> None:
    answer = await platform.client.post(
        "/api/v1/uploads",
        headers=platform.key("inst-a") | {"Accept": "application/x-ndjson"},
        data={"kind": "meeting"},
        files={"file": ("会议.csv", HEADER.encode("gbk"), "text/csv")},
    )
    [line] = [json.loads(x) for x in answer.text.splitlines()]
    assert line["error"]["field"] == "file" and line["status"] == 422
