"""The L3 Kafka consumer collects a batch's messages and ingests them at the batch's end, one pass
per institution; a pass that fails leaves the batch to be tried again whole."""

from __future__ import annotations

from typing import Any

import pytest
from alliance_activity.domain.model import Reporter, Submitted
from alliance_activity.entrypoints.streaming import StreamIngest
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.vocabulary import Channel
from alliance_shared.kafka.consumer import ConsumedMessage

pytestmark = pytest.mark.unit


def message(n: int, institution: str) -> tuple[CloudEvent, ConsumedMessage]:
    event = CloudEvent.from_structured(
        {
            "specversion": "1.0",
            "id": f"ev-{n}",
            "source": "/oa/party",
            "type": "fpba.meeting.held.v1",
            "datacontenttype": "application/json",
            "data": {"organization_id": "org-a"},
            "institutionid": institution,
        }
    )
    return event, ConsumedMessage("activity.ingest.v1", 0, n, None, (), 0)


class Report:
    rejected: tuple[Any, ...] = ()


async def test_a_batch_is_ingested_once_per_institution_and_again_whole_after_a_failure():
    passes: list[tuple[str | None, list[str], Channel]] = []
    fail = {"once": True}

    async def ingest(items: list[Submitted], channel: Channel, reporter: Reporter) -> Report:
        if reporter.institution_id == "inst-b" and fail["once"]:
            fail["once"] = False
            raise ConnectionError("store unavailable")
        passes.append((reporter.institution_id, [i.label for i in items], channel))
        return Report()

    stream = StreamIngest(ingest)  # type: ignore[arg-type]
    for n, inst in enumerate(["inst-a", "inst-b", "inst-a", "inst-a", "inst-b"]):
        await stream(*message(n, inst))
    assert passes == []  # nothing before the batch ends

    with pytest.raises(ConnectionError):
        await stream.end_batch()
    await stream.end_batch()  # the consumer tries again: the whole batch, in its order
    assert passes == [
        ("inst-a", ["ev-0", "ev-2", "ev-3"], Channel.STREAM),  # the first try got this far
        ("inst-a", ["ev-0", "ev-2", "ev-3"], Channel.STREAM),  # again: the store answers duplicates
        ("inst-b", ["ev-1", "ev-4"], Channel.STREAM),
    ]
    await stream.end_batch()
    assert len(passes) == 3  # nothing left over
