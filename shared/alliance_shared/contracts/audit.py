"""Audit records travelling from the service that wrote them to evaluation, which serves the
platform's one audit trail (`GET /api/v1/audit`, its dashboard page and workbook). Services keep
their own databases: registry and notification each store their records and announce them on
their own events topic (the record is the document its outbox rides in), activity announces each
review step's record in the write that takes the step; evaluation projects them next to its own.
One shape for all: who (subject, role, key, institution), when, what (action, object, the
institution concerned, a few details with no personal data) and from where (the client address
the platform trusts: uvicorn's proxy headers from `FORWARDED_ALLOW_IPS`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import AwareDatetime, EventPayload, Id
from .topics import ACTIVITY_EVENTS, NOTIFICATION_EVENTS, REGISTRY_EVENTS

Detail = str | int | float | bool | None | list[str]
Service = Literal["registry", "activity", "evaluation", "notification"]


class ActionAudited(EventPayload):
    """An administrative action (or a refused attempt at one), as audited. The concrete types
    below say which service's topic carries it."""

    audit_id: Id  # sortable by time: the audit trail's order and its paging cursor
    at: AwareDatetime
    service: Service
    action: str = Field(min_length=1, max_length=100)  # `<object>.<verb>`: period.closed, rule.updated
    outcome: Literal["done", "denied"] = "done"
    actor: str = Field(min_length=1, max_length=200)  # the person's subject or `api-key:<key id>`
    actor_role: str | None = None
    actor_key_id: str | None = None
    actor_institution_id: str | None = None
    ip: str | None = None
    object_type: str = Field(min_length=1, max_length=50)
    object_id: str = Field(min_length=1, max_length=200)
    institution_id: str | None = None  # the institution the object belongs to, for its filter
    period: str | None = None
    details: dict[str, Detail] = Field(default_factory=dict)

    def ordering_key(self) -> str | None:
        return self.institution_id or self.object_id


class RegistryActionAudited(ActionAudited):
    """Registry audited an action: an API key issued or revoked, an unmasked read of personal
    data, a refused attempt on another institution's data."""

    event_type = "fpba.registry_action.audited.v1"
    kafka_topic = REGISTRY_EVENTS


class NotificationActionAudited(ActionAudited):
    """Notification audited an action: a reminder rule, a template or an SMS budget edited."""

    event_type = "fpba.notification_action.audited.v1"
    kafka_topic = NOTIFICATION_EVENTS


class ActivityActionAudited(ActionAudited):
    """Activity audited an action: a submission approved, returned or resubmitted in review."""

    event_type = "fpba.activity_action.audited.v1"
    kafka_topic = ACTIVITY_EVENTS


PAYLOADS: tuple[type[EventPayload], ...] = (RegistryActionAudited, NotificationActionAudited, ActivityActionAudited)
