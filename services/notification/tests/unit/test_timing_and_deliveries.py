"""Quiet hours, backoff, the retry/fallback decision and redaction."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alliance_notification.domain.deliveries import after_failure, receipt_status, redact
from alliance_notification.domain.rules import QuietHours
from alliance_notification.domain.timing import backoff, iso_week, next_local_morning, quiet_until

pytestmark = pytest.mark.unit
SH = ZoneInfo("Asia/Shanghai")
QUIET = QuietHours()


def at(hour: int, minute: int = 0, day: int = 15) -> datetime:
    return datetime(2026, 9, day, hour, minute, tzinfo=SH)


def test_an_sms_at_half_past_ten_at_night_waits_until_eight_the_next_morning():
    assert quiet_until(at(22, 30), QUIET) == at(8, 0, day=16).astimezone(UTC)


def test_an_sms_just_before_eight_waits_until_eight_the_same_morning():
    assert quiet_until(at(7, 59), QUIET) == at(8, 0).astimezone(UTC)


@pytest.mark.parametrize("hour", [8, 12, 20])
def test_an_sms_in_the_day_may_go_now(hour):
    assert quiet_until(at(hour), QUIET) is None


def test_quiet_hours_start_at_nine_in_the_evening():
    assert quiet_until(at(21, 0), QUIET) == at(8, 0, day=16).astimezone(UTC)
    assert quiet_until(at(20, 59), QUIET) is None


def test_disabled_quiet_hours_never_defer():
    assert quiet_until(at(23), QuietHours(enabled=False)) is None


def test_backoff_doubles_and_is_capped():
    assert [backoff(i, 60, 200).total_seconds() for i in (1, 2, 3, 4)] == [60, 120, 200, 200]


def test_the_next_morning_is_eight_oclock_shanghai_time():
    assert next_local_morning(at(10)) == at(8, day=16).astimezone(UTC)
    assert iso_week(at(10)) == "2026-W38"


NOW = datetime(2026, 9, 15, 2, 0, tzinfo=UTC)


def decide(**kw):
    base = dict(
        transient=True,
        provider_index=0,
        provider_attempts=0,
        providers=2,
        now=NOW,
        max_attempts=3,
        backoff_s=60,
        backoff_max_s=3600,
    )
    return after_failure(**{**base, **kw})


def test_a_transient_failure_is_retried_with_backoff_on_the_same_provider():
    d = decide()
    assert (d.status, d.provider_index, d.provider_attempts, d.dead_letter) == ("queued", 0, 1, False)
    assert d.due_at == NOW + timedelta(seconds=60)


def test_a_permanent_failure_moves_to_the_fallback_provider_at_once():
    d = decide(transient=False)
    assert (d.status, d.provider_index, d.provider_attempts, d.due_at) == ("queued", 1, 0, NOW)


def test_transient_failures_exhausting_the_attempts_move_to_the_fallback():
    assert decide(provider_attempts=2).provider_index == 1


def test_with_no_provider_left_the_delivery_fails_into_the_dead_letters():
    d = decide(transient=False, provider_index=1)
    assert (d.status, d.dead_letter, d.due_at) == ("failed", True, None)


def test_errors_lose_addresses_and_phone_numbers():
    text = redact("550 5.1.1 <zhang.san@bank.cn>: unknown; phone 13812345678 rejected")
    assert "zhang.san" not in text and "13812345678" not in text


def test_receipt_statuses_are_mapped_or_ignored():
    assert receipt_status("DELIVERED") == "delivered" and receipt_status("fail") == "failed"
    assert receipt_status("pending") is None
