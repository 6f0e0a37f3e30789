"""The platform's Kafka topics: the one place their names and partition counts live."""

from __future__ import annotations

REGISTRY_EVENTS = "registry.events.v1"
ACTIVITY_INGEST = "activity.ingest.v1"
ACTIVITY_EVENTS = "activity.events.v1"
ACTIVITY_REJECTED = "activity.rejected.v1"
EVALUATION_EVENTS = "evaluation.events.v1"
NOTIFICATION_EVENTS = "notification.events.v1"

# topic -> partitions. Every consumed topic has a `.dlq` twin.
TOPICS: dict[str, int] = {
    REGISTRY_EVENTS: 6,
    ACTIVITY_INGEST: 6,
    ACTIVITY_EVENTS: 12,
    ACTIVITY_REJECTED: 3,
    EVALUATION_EVENTS: 6,
    NOTIFICATION_EVENTS: 6,
}


def dlq(topic: str) -> str:
    """The dead-letter topic of a consumed topic."""
    return f"{topic}.dlq"


def all_topics() -> dict[str, int]:
    """Every topic the platform needs, DLQs included (one partition each)."""
    return {**TOPICS, **{dlq(t): 1 for t in TOPICS}}
