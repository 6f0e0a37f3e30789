"""The closed loop: for each reminder, did the branch report within 14 days afterwards? The figure
the secretariat uses to judge whether reminders work — overall, and broken down by the channel that
carried the reminder, the rule's step, and the hour (Asia/Shanghai) it was sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

WINDOW = timedelta(days=14)
_SHANGHAI = ZoneInfo("Asia/Shanghai")
CHANNEL_ZH = {"email": "邮件", "sms": "短信"}
RULE_ZH = {
    "lagging_branch": "落后支部",
    "at_risk_branch": "风险支部",
    "quarter_end_missing_reports": "季末缺报",
}
STEP_ZH = {"secretary": "提醒支部书记", "committee": "升级至机构党委", "secretariat": "列入秘书处清单"}


def _outcome(r: Mapping[str, Any], now: datetime, window: timedelta) -> str:
    created, reported = r["created_at"], r.get("reported_at")
    if reported is not None and reported - created <= window:
        return "answered"
    return "pending" if now - created < window else "missed"


def closed_loop(reminders: Iterable[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """Counts of reminders answered within the window, not answered, and still inside it; `rate`
    is over the decided ones only (None until one is decided)."""
    counts = {"answered": 0, "missed": 0, "pending": 0}
    for r in reminders:
        counts[_outcome(r, now, WINDOW)] += 1
    decided = counts["answered"] + counts["missed"]
    return {
        "reminders": sum(counts.values()),
        "reported_within_14_days": counts["answered"],
        "not_reported_within_14_days": counts["missed"],
        "window_open": counts["pending"],
        "rate": round(counts["answered"] / decided, 4) if decided else None,
    }


def _group(outcomes: list[str]) -> dict[str, Any]:
    answered, missed = outcomes.count("answered"), outcomes.count("missed")
    decided = answered + missed
    return {
        "reminders": len(outcomes),
        "reported": answered,
        "not_reported": missed,
        "window_open": outcomes.count("pending"),
        "rate": round(answered / decided, 4) if decided else None,
    }


def breakdown(
    reminders: Sequence[Mapping[str, Any]],
    sends: Sequence[Mapping[str, Any]],
    now: datetime,
    within_days: int,
) -> dict[str, Any]:
    """The share of reminders followed by a report within `within_days` (≤ 14: reports are matched
    to the reminders of the 14 days before them), per channel that sent it, per rule step, and per
    local hour of its first send. A reminder nothing was sent for counts under its step only."""
    window = timedelta(days=within_days)
    sent: dict[str, list[tuple[str, datetime]]] = {}
    for d in sends:
        if d.get("sent_at") is not None and d.get("status") in ("sent", "delivered", "failed"):
            sent.setdefault(d["reminder_id"], []).append((d["channel"], d["sent_at"]))
    by_channel: dict[str, list[str]] = {}
    by_step: dict[tuple[str, str], list[str]] = {}
    by_hour: dict[int, list[str]] = {}
    for r in reminders:
        outcome = _outcome(r, now, window)
        by_step.setdefault((r["rule"], r.get("step") or ""), []).append(outcome)
        carried = sent.get(r["_id"], [])
        for channel in sorted({c for c, _ in carried}):
            by_channel.setdefault(channel, []).append(outcome)
        if carried:
            hour = min(at for _, at in carried).astimezone(_SHANGHAI).hour
            by_hour.setdefault(hour, []).append(outcome)
    return {
        "within_days": within_days,
        "by_channel": [
            {"channel": c, "label": CHANNEL_ZH.get(c, c), **_group(o)} for c, o in sorted(by_channel.items())
        ],
        "by_step": [
            {
                "rule": rule,
                "step": step,
                "label": f"{RULE_ZH.get(rule, rule)} · {STEP_ZH.get(step, step)}",
                **_group(o),
            }
            for (rule, step), o in sorted(by_step.items())
        ],
        "by_hour": [
            {"hour": h, "label": f"{h:02d}:00–{h:02d}:59", **_group(o)} for h, o in sorted(by_hour.items())
        ],
    }
