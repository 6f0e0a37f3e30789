"""The consumer of evaluation: registry, activity (accepted and rejected) and notification events,
dispatched through the handler table."""

from __future__ import annotations

from alliance_shared.contracts.topics import (
    ACTIVITY_EVENTS,
    ACTIVITY_REJECTED,
    NOTIFICATION_EVENTS,
    REGISTRY_EVENTS,
)
from alliance_shared.kafka.consumer import EventDispatch
from alliance_shared.runtime import ConsumerSpec

from ..handlers import Evaluation, event_handlers

TOPICS = (REGISTRY_EVENTS, ACTIVITY_EVENTS, ACTIVITY_REJECTED, NOTIFICATION_EVENTS)


def consumer_specs(ev: Evaluation, group_id: str) -> list[ConsumerSpec]:
    return [ConsumerSpec(group_id=group_id, topics=TOPICS, handler=EventDispatch(event_handlers(ev)))]
