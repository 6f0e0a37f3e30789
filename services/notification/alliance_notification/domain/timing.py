"""When things may happen: quiet hours, retry backoff, day and week keys in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .rules import QuietHours

SHANGHAI = ZoneInfo("Asia/Shanghai")


def quiet_until(at: datetime, quiet: QuietHours) -> datetime | None:
    """The end of the quiet period `at` falls in (UTC), or None when an SMS may go now."""
    if not quiet.enabled or quiet.start_hour == quiet.end_hour:
        return None
    local = at.astimezone(ZoneInfo(quiet.timezone))
    hour = local.hour
    wraps = quiet.start_hour > quiet.end_hour  # 21 → 8 crosses midnight
    inside = (
        (hour >= quiet.start_hour or hour < quiet.end_hour)
        if wraps
        else (quiet.start_hour <= hour < quiet.end_hour)
    )
    if not inside:
        return None
    release = local.replace(hour=quiet.end_hour, minute=0, second=0, microsecond=0)
    if release <= local:
        release += timedelta(days=1)
    return release.astimezone(UTC)


def backoff(attempt: int, base_s: float, max_s: float) -> timedelta:
    """Delay before retry number `attempt` (1-based): base, 2×base, 4×base … capped."""
    return timedelta(seconds=min(max_s, base_s * 2 ** max(0, attempt - 1)))


def local_day(at: datetime) -> str:
    return at.astimezone(SHANGHAI).date().isoformat()


def next_local_morning(at: datetime, hour: int = 8) -> datetime:
    """The next day's `hour` o'clock in Asia/Shanghai (for a phone that used up today's SMS)."""
    local = at.astimezone(SHANGHAI)
    return (local.replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=1)).astimezone(UTC)


def iso_week(at: datetime) -> str:
    year, week, _ = at.astimezone(SHANGHAI).isocalendar()
    return f"{year}-W{week:02d}"


def shanghai_text(at: datetime | None) -> str:
    """An instant as shown to people: RFC 3339 in Asia/Shanghai."""
    return at.astimezone(SHANGHAI).isoformat(timespec="seconds") if at else ""
