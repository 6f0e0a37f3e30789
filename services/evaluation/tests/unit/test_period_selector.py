"""A quarter appears in the dashboard's selector only once it has started."""

from __future__ import annotations

from datetime import date

import pytest
from alliance_evaluation.adapters import dashboard_views

pytestmark = pytest.mark.unit


class Models:
    async def overview_periods(self) -> list[str]:
        return ["2026-Q3", "2027-Q1", "2026-Q4"]  # 2027-Q1 made by an event dated in March 2027


async def test_a_quarter_that_has_not_started_is_not_offered():
    assert await dashboard_views.periods(Models(), date(2026, 12, 1)) == ["2026-Q4", "2026-Q3"]  # type: ignore[arg-type]
    assert (await dashboard_views.periods(Models(), date(2027, 1, 1)))[0] == "2027-Q1"  # type: ignore[arg-type]
