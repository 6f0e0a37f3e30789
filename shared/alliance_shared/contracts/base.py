"""The base of every event payload: a frozen pydantic model that knows its type and topic."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a UTC offset (RFC 3339)")
    return value


Id = Annotated[str, Field(min_length=1, max_length=100)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Quarter = Annotated[str, Field(pattern=r"^\d{4}-Q[1-4]$")]


class EventPayload(BaseModel):
    """The `data` of a CloudEvent. Subclasses are facts, named in the past tense, and declare
    their CloudEvents `type` (versioned, ``fpba.<subject>.<verb>.v1``) and the topic they travel on (`kafka_topic`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    kafka_topic: ClassVar[str]
    # the fields whose first present value keys the message: a topic that must keep one
    # institution's history in order (registry's) names the institution alone
    keyed_by: ClassVar[tuple[str, ...]] = ("organization_id", "institution_id")

    def ordering_key(self) -> str | None:
        """The Kafka message key that keeps related events in order (organisation or institution)."""
        for name in self.keyed_by:
            value = getattr(self, name, None)
            if isinstance(value, str):
                return value
        return None
