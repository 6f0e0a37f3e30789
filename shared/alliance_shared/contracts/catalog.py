"""Every event type of the platform, by its CloudEvents `type`, and the topic it travels on."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from ..validation import explain
from . import activity, audit, evaluation, notification, registry
from .base import EventPayload
from .envelope import CloudEvent, EnvelopeError

P = TypeVar("P", bound=EventPayload)

ALL_PAYLOADS: tuple[type[EventPayload], ...] = (
    *registry.PAYLOADS, *activity.PAYLOADS, *evaluation.PAYLOADS, *notification.PAYLOADS,
    *audit.PAYLOADS,
)
BY_TYPE: dict[str, type[EventPayload]] = {p.event_type: p for p in ALL_PAYLOADS}


def payload_class(event_type: str) -> type[EventPayload]:
    try:
        return BY_TYPE[event_type]
    except KeyError:
        raise EnvelopeError("type", f"unknown event type {event_type!r}") from None


def parse_payload(event: CloudEvent) -> EventPayload:
    """The typed `data` of `event`; `EnvelopeError` names the first field at fault."""
    cls = payload_class(event.type)
    try:
        return cls.model_validate(event.data)
    except ValidationError as exc:
        field, reason = explain(exc.errors()[0], prefix=("data",))
        raise EnvelopeError(field, reason) from None


def envelope(payload: EventPayload, *, source: str, subject: str | None = None,
             **extensions: Any) -> CloudEvent:
    """Wrap a payload in a fresh CloudEvent of its declared type."""
    return CloudEvent.new(type=payload.event_type, source=source,
                          subject=subject if subject is not None else payload.ordering_key(),
                          data=payload.model_dump(mode="json"), **extensions)
