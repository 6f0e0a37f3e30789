"""The closed loop: for each reminder, did the branch report within 14 days afterwards? The figure
the secretariat uses to judge whether reminders work."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

WINDOW = timedelta(days=14)


def closed_loop(reminders: Iterable[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """Counts of reminders answered within the window, not answered, and still inside it; `rate`
    is over the decided ones only (None until one is decided)."""
    answered = missed = pending = 0
    for r in reminders:
        created, reported = r["created_at"], r.get("reported_at")
        if reported is not None and reported - created <= WINDOW:
            answered += 1
        elif now - created < WINDOW:
            pending += 1
        else:
            missed += 1
    decided = answered + missed
    return {
        "reminders": answered + missed + pending,
        "reported_within_14_days": answered,
        "not_reported_within_14_days": missed,
        "window_open": pending,
        "rate": round(answered / decided, 4) if decided else None,
    }
