"""The L3 Kafka consumer collects a batch's messages and ingests them at the batch's end, in one
pass for every institution; a pass that fails leaves the batch to be tried again whole."""

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


class Ingest:
    """Stands in for `IngestSubmissions.many`: records each pass, fails the first one."""

    def __init__(self) -> None:
        self.passes: list[list[tuple[str | None, list[str]]]] = []
        self.fail_once = True

    async def many(self, submissions: list[tuple[Reporter, list[Submitted]]], channel: Channel) -> list[Report]:
        assert channel is Channel.STREAM
        if self.fail_once:
            self.fail_once = False
            raise ConnectionError("store unavailable")
        self.passes.append([(reporter.institution_id, [i.label for i in items]) for reporter, items in submissions])
        return [Report() for _ in submissions]


async def test_a_batch_is_ingested_in_one_pass_for_every_institution_and_again_whole_after_a_failure():
    ingest = Ingest()
    stream = StreamIngest(ingest)  # type: ignore[arg-type]
    for n, inst in enumerate(["inst-a", "inst-b", "inst-a", "inst-a", "inst-b"]):
        await stream(*message(n, inst))
    assert ingest.passes == []  # nothing before the batch ends

    with pytest.raises(ConnectionError):
        await stream.end_batch()
    await stream.end_batch()  # the consumer tries again: the whole batch, in its order
    assert ingest.passes == [[("inst-a", ["ev-0", "ev-2", "ev-3"]), ("inst-b", ["ev-1", "ev-4"])]]
    await stream.end_batch()
    assert len(ingest.passes) == 1  # nothing left over, and an empty batch costs no pass
