"""Maturity-fair comparison: completeness and timeliness read against each reporting level's own
expectation, level by level, and said how."""

from __future__ import annotations

import pytest
import yaml
from alliance_evaluation.domain.drafts import DraftInvalid, validate
from alliance_evaluation.domain.maturity import against_level, by_level, how_compared
from alliance_evaluation.domain.ruleset import RULESET_DIR, load_ruleset

pytestmark = pytest.mark.unit
RS = load_ruleset("2026.1")


def card(level: str, completeness: float | None, timeliness: float | None) -> dict[str, object]:
    return {"reporting_level": level, "completeness": completeness, "timeliness": timeliness}


def test_a_spreadsheet_reporter_meets_its_level_where_a_streaming_one_would_not():
    l1 = against_level(card("L1", 85.0, 65.0), RS)
    l3 = against_level(card("L3", 85.0, 65.0), RS)
    assert l1 is not None and l3 is not None
    assert (l1["expected_completeness"], l1["expected_timeliness"], l1["grace_days"]) == (80.0, 60.0, 10)
    assert l1["meets"] is True and (l1["completeness_gap"], l1["timeliness_gap"]) == (5.0, 5.0)
    assert l3["meets"] is False and l3["completeness_gap"] == -10.0 and l3["grace_days"] == 1
    assert against_level(card("L2", None, None), RS)["meets"] is None  # type: ignore[index]


def test_the_overview_compares_each_level_against_its_own_expectation_and_says_how():
    levels = by_level([card("L1", 90.0, 70.0), card("L1", 50.0, 40.0), card("L3", 96.0, 99.0)], RS)
    by = {x["reporting_level"]: x for x in levels}
    assert [x["reporting_level"] for x in levels] == ["L1", "L2", "L3"]
    assert (by["L1"]["institutions"], by["L1"]["meeting_expectation"], by["L1"]["completeness"]) == (2, 1, 70.0)
    assert (by["L2"]["institutions"], by["L2"]["completeness"]) == (0, None)
    assert by["L3"]["meeting_expectation"] == 1 and by["L3"]["expected_timeliness"] == 95.0
    note = how_compared(RS)
    assert note.startswith("各机构按同一义务日历计算") and "L1 10 天" in note and " / " in note


def test_a_ruleset_sets_its_levels_expectations_and_a_draft_is_checked_for_them():
    raw = yaml.safe_load((RULESET_DIR / "2026.1.yaml").read_text(encoding="utf-8")) | {"version": "x"}
    raw["reporting"]["expected"] = {"L1": {"completeness": "7/10", "timeliness": "1/2"}}
    rs = validate(raw)
    assert against_level(card("L1", 70.0, 50.0), rs)["meets"] is True  # type: ignore[index]
    assert rs.reporting_expected["L3"] == RS.reporting_expected["L3"]  # the others keep their defaults
    raw["reporting"]["expected"] = {"L4": {}, "L2": {"completeness": 2, "timeliness": "1/2"}}
    with pytest.raises(DraftInvalid) as caught:
        validate(raw)
    assert {p.field for p in caught.value.problems} == {"reporting.expected.L4", "reporting.expected.L2.completeness"}
