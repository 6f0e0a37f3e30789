"""The period lock's rules: a closed period refuses, an exception in force for the branch or its
institution lets in, an expired one is named, a revoked one is as if never granted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alliance_activity.domain.period_lock import PeriodLocks, UnlockException

pytestmark = pytest.mark.unit
NOW = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)
FIELD = "data.held_at"


def locks(*exceptions: UnlockException) -> PeriodLocks:
    return PeriodLocks({"2026-Q3": NOW - timedelta(days=10)}, exceptions)


def unlock(org: str | None, inst: str | None, until: datetime, revoked: datetime | None = None) -> UnlockException:
    return UnlockException("x", "2026-Q3", org, inst, until, revoked)


def test_an_open_period_lets_every_report_in():
    assert locks().refusal("2026-Q4", "org-a", "inst-a", NOW, FIELD) is None


def test_a_closed_period_refuses_and_says_how_to_report_late():
    why = locks().refusal("2026-Q3", "org-a", "inst-a", NOW, FIELD)
    assert why is not None and why.field == FIELD
    assert why.reason.startswith("2026-Q3 考核期已关闭，不再接收上报；如需补报请向秘书处申请解锁例外 / ")


def test_an_exception_in_force_lets_its_branch_or_institution_in_and_no_one_else():
    later = NOW + timedelta(days=1)
    branch, institution = locks(unlock("org-a", None, later)), locks(unlock(None, "inst-a", later))
    assert branch.refusal("2026-Q3", "org-a", "inst-a", NOW, FIELD) is None
    assert branch.refusal("2026-Q3", "org-b", "inst-a", NOW, FIELD) is not None
    assert institution.refusal("2026-Q3", "org-b", "inst-a", NOW, FIELD) is None
    assert institution.refusal("2026-Q3", "org-c", "inst-c", NOW, FIELD) is not None
    assert branch.refusal("2026-Q3", "org-a", "inst-a", later, FIELD) is not None  # `until` is exclusive


def test_an_expired_exception_is_named_and_a_revoked_one_is_as_if_never_granted():
    expired = locks(unlock("org-a", None, NOW - timedelta(hours=1)))
    why = expired.refusal("2026-Q3", "org-a", "inst-a", NOW, FIELD)
    assert why is not None and "解锁例外已于 2026-10-20 09:00（北京时间）到期" in why.reason
    revoked = locks(unlock("org-a", None, NOW + timedelta(days=1), revoked=NOW - timedelta(minutes=5)))
    why = revoked.refusal("2026-Q3", "org-a", "inst-a", NOW, FIELD)
    assert why is not None and "不再接收上报" in why.reason
