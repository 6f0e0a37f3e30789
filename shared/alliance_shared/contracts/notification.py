"""Events of the notification service on `notification.events.v1`, keyed by organisation id."""

from __future__ import annotations

from typing import Literal

from .base import AwareDatetime, EventPayload, Id
from .topics import NOTIFICATION_EVENTS

DeliveryStatus = Literal["queued", "deferred", "sent", "delivered", "failed", "cancelled"]


class DeliveryStatusChanged(EventPayload):
    """A reminder's delivery moved to a new status; the unified view shows what was sent and
    whether it worked. The recipient appears masked only."""

    event_type = "fpba.delivery.status_changed.v1"
    kafka_topic = NOTIFICATION_EVENTS

    delivery_id: Id
    rule: str
    step: str
    organization_id: str | None
    institution_id: str | None
    period: str | None = None
    channel: Literal["email", "sms"]
    status: DeliveryStatus
    attempt: int = 0
    recipient_masked: str = ""
    provider: str | None = None
    error: str | None = None
    at: AwareDatetime
    # added: the provider's error code and why, in Chinese, the message was not delivered
    error_code: str | None = None
    reason_zh: str | None = None

    def ordering_key(self) -> str | None:
        return self.organization_id or self.institution_id or self.delivery_id


PAYLOADS: tuple[type[EventPayload], ...] = (DeliveryStatusChanged,)
