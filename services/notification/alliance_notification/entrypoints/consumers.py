"""The consumer of the notification service: one group over the four topics it reacts to."""

from __future__ import annotations

from alliance_shared.contracts.topics import (
    ACTIVITY_EVENTS,
    ACTIVITY_REJECTED,
    EVALUATION_EVENTS,
    REGISTRY_EVENTS,
)
from alliance_shared.kafka.consumer import EventDispatch
from alliance_shared.runtime import ConsumerSpec

from ..handlers import NotificationUnit, apply_reports, bound_handlers

TOPICS = (REGISTRY_EVENTS, EVALUATION_EVENTS, ACTIVITY_REJECTED, ACTIVITY_EVENTS)


def consumer_specs(notifier: NotificationUnit, group_id: str) -> list[ConsumerSpec]:
    async def batch_end() -> None:
        await apply_reports(notifier)

    return [
        ConsumerSpec(
            group_id=group_id,
            topics=TOPICS,
            handler=EventDispatch(bound_handlers(notifier)),
            on_batch_end=batch_end,
        )
    ]
