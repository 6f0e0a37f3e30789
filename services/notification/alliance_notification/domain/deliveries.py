"""A delivery's life: queued → sent → delivered / failed, with deferrals (quiet hours, the daily SMS
cap, throttling) and cancellation (the branch reported). Pure decisions; the handlers store them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .timing import backoff

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)(\+?86)?1\d{10}(?!\d)")

Status = Literal["queued", "deferred", "sent", "delivered", "failed", "cancelled"]
PENDING: tuple[Status, ...] = ("queued", "deferred")
FINAL: tuple[Status, ...] = ("delivered", "failed", "cancelled")
# what a delivery not yet attempted says of its attempts, its provider and its recipient
UNATTEMPTED: dict[str, Any] = {
    "attempts": 0, "provider_index": 0, "provider_attempts": 0, "provider": None, "provider_message_id": None,
    "recipient_masked": None,
}  # fmt: skip


class SendFailed(Exception):
    """A channel could not send. `transient` failures (timeouts, 4xx SMTP replies, throttling by the
    provider) are retried with backoff; permanent ones move on to the fallback provider at once."""

    def __init__(self, message: str, *, transient: bool, provider: str, code: str | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.provider = provider
        self.code = code  # the provider's error code, read in Chinese by `delivery_reasons`


@dataclass(frozen=True)
class SendReceipt:
    provider: str
    message_id: str | None


@dataclass(frozen=True)
class AfterFailure:
    """What to do once an attempt failed."""

    status: Status
    due_at: datetime | None
    provider_index: int
    provider_attempts: int
    dead_letter: bool


def after_failure(
    *,
    transient: bool,
    provider_index: int,
    provider_attempts: int,
    providers: int,
    now: datetime,
    max_attempts: int,
    backoff_s: float,
    backoff_max_s: float,
) -> AfterFailure:
    """Retry a transient failure with exponential backoff; then (or at once, for a permanent
    failure) the next provider; with none left the delivery fails and goes to the dead letters."""
    attempts = provider_attempts + 1
    if transient and attempts < max_attempts:
        return AfterFailure(
            "queued",
            now + backoff(attempts, backoff_s, backoff_max_s),
            provider_index,
            attempts,
            dead_letter=False,
        )
    if provider_index + 1 < providers:
        return AfterFailure("queued", now, provider_index + 1, 0, dead_letter=False)
    return AfterFailure("failed", None, provider_index, attempts, dead_letter=True)


def redact(text: str) -> str:
    """Provider and SMTP errors sometimes quote the address; keep it out of history and events."""
    return _PHONE.sub("1**********", _EMAIL.sub("***@***", text))


def receipt_status(raw: str) -> Status | None:
    """A provider's receipt status in our words (None: not a final answer, ignore it)."""
    value = raw.strip().lower()
    if value in ("delivered", "success", "ok", "deliverd", "0", "true"):
        return "delivered"
    if value in ("failed", "fail", "undelivered", "rejected", "false"):
        return "failed"
    return None
