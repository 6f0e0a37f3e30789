"""The overview says how final its numbers are."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alliance_evaluation.adapters.views import build_overview

pytestmark = pytest.mark.unit


def row(inst: str, as_of: str, provisional: bool) -> dict[str, object]:
    return {"institution": {"id": inst, "score": 80, "grade": "good", "as_of": as_of, "provisional": provisional}}


def test_an_open_quarters_overview_is_provisional_as_of_its_latest_day():
    docs = [row("i1", "2026-11-30", True), row("i2", "2026-12-01", True)]
    overview = build_overview("2026-Q4", docs, {}, datetime(2026, 12, 1, tzinfo=UTC))
    assert overview["provisional"] and overview["standing"] == "截至 12月1日 · 进行中"


def test_an_ended_quarters_overview_is_final():
    overview = build_overview("2026-Q3", [row("i1", "2026-09-30", False)], {}, datetime(2026, 12, 1, tzinfo=UTC))
    assert not overview["provisional"] and overview["standing"] == "季度已结束 · 最终"
