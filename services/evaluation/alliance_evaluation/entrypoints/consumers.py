"""The consumer of evaluation: registry, activity (accepted and rejected) and notification events,
dispatched through the handler table.

No dedupe marks: every handler is idempotent per event id (a projection inserts under the event's
id or pushes an entry guarded by it; the rest are upserts and `$set`s, and a redelivered batch
replays in partition order). The marks cost two store commands per event on a store that runs one
command at a time — a quarter of what evaluation asks of it while a quarter's activity streams in.
`tests/integration/test_redelivery.py` delivers every kind twice."""

from __future__ import annotations

from alliance_shared.contracts.topics import (
    ACTIVITY_EVENTS,
    ACTIVITY_REJECTED,
    NOTIFICATION_EVENTS,
    REGISTRY_EVENTS,
)
from alliance_shared.kafka.consumer import ConsumerPolicy, EventDispatch
from alliance_shared.runtime import ConsumerSpec

from ..handlers import bound
from ..usecases.unit import EvaluationUnit

TOPICS = (REGISTRY_EVENTS, ACTIVITY_EVENTS, ACTIVITY_REJECTED, NOTIFICATION_EVENTS)
# records a poll may bring: the batch's store commands (insert, owners, queue marks) are paid once
# per poll, so a larger poll means fewer of them per event
BATCH_MAX_RECORDS = 2_000


def consumer_specs(ev: EvaluationUnit, group_id: str) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            group_id=group_id,
            topics=TOPICS,
            handler=EventDispatch(bound(ev)),
            dedupe=False,
            on_batch_end=ev.end_batch,
            policy=ConsumerPolicy(batch_max_records=BATCH_MAX_RECORDS),
        )
    ]
