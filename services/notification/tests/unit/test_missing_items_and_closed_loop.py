"""The SMS names what is missing, within an SMS; the closed loop per channel, rule step and hour."""

from datetime import UTC, datetime, timedelta

import pytest
from alliance_notification.domain.closed_loop import breakdown
from alliance_notification.domain.default_templates import DEFAULT_TEMPLATES
from alliance_notification.domain.templates import PREVIEW_CONTEXT, brief, render_sms, sms_segments

pytestmark = pytest.mark.unit
MISSING = next(t for t in DEFAULT_TEMPLATES if t.name == "reports_missing")


def test_the_quarter_end_sms_names_the_missing_items_in_chinese_within_one_sms():
    sms = render_sms(MISSING, {**PREVIEW_CONTEXT, "missing": ["支部党员大会", "党课"]})
    assert "尚缺支部党员大会、党课，" in sms.text
    assert sms.params["items"] == "支部党员大会、党课"
    assert sms_segments(sms.text) == 1, sms.text


def test_a_long_list_of_missing_items_is_shortened_and_counted():
    names = ["支部党员大会", "支部委员会", "党小组会", "党课", "主题党日"]
    sms = render_sms(MISSING, {**PREVIEW_CONTEXT, "missing": names})
    assert sms.params["items"] == "支部党员大会等5项" and len(sms.params["items"]) <= 12
    assert "尚缺支部党员大会等5项，" in sms.text and sms_segments(sms.text) == 1
    assert brief(["党课"]) == "党课" and brief([]) == ""
    assert brief(["支部委员会", "党课", "主题党日"]) == "支部委员会、党课等3项"


def test_sms_parts_are_counted_as_providers_bill_them():
    assert [sms_segments("字" * n) for n in (1, 70, 71, 134, 135)] == [1, 1, 2, 2, 3]


def test_the_closed_loop_is_broken_down_by_channel_step_and_hour_of_sending():
    now = datetime(2026, 9, 30, 4, 0, tzinfo=UTC)
    t0 = now - timedelta(days=20)

    def reminder(rid, rule, step, reported_after_days):
        reported = t0 + timedelta(days=reported_after_days) if reported_after_days is not None else None
        return {"_id": rid, "rule": rule, "step": step, "created_at": t0, "reported_at": reported}

    reminders = [
        reminder("a", "lagging_branch", "secretary", 2),  # reported within 3 days
        reminder("b", "lagging_branch", "secretary", 10),  # within 14, not within 3
        reminder("c", "lagging_branch", "committee", None),  # never
    ]
    at_10 = t0.replace(hour=2)  # 10:00 in Shanghai
    at_20 = t0.replace(hour=12)  # 20:00 in Shanghai
    sends = [
        {"reminder_id": "a", "channel": "sms", "status": "delivered", "sent_at": at_10},
        {"reminder_id": "a", "channel": "email", "status": "sent", "sent_at": at_10},
        {"reminder_id": "b", "channel": "email", "status": "sent", "sent_at": at_20},
        {"reminder_id": "c", "channel": "email", "status": "sent", "sent_at": at_20},
        {"reminder_id": "c", "channel": "sms", "status": "cancelled", "sent_at": None},
    ]
    got = breakdown(reminders, sends, now, within_days=3)
    channels = {g["channel"]: (g["label"], g["reminders"], g["reported"], g["rate"]) for g in got["by_channel"]}
    assert channels == {"email": ("邮件", 3, 1, 0.3333), "sms": ("短信", 1, 1, 1.0)}
    steps = {g["step"]: (g["label"], g["rate"]) for g in got["by_step"]}
    assert steps == {"secretary": ("落后支部 · 提醒支部书记", 0.5), "committee": ("落后支部 · 升级至机构党委", 0.0)}
    assert [(g["hour"], g["reminders"], g["rate"]) for g in got["by_hour"]] == [(10, 1, 1.0), (20, 2, 0.0)]
    assert breakdown(reminders, sends, now, within_days=14)["by_step"][1]["rate"] == 1.0
