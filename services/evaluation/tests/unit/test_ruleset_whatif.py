"""Draft rulesets checked field by field, and the what-if diff of two rulesets over the same facts."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest
import yaml
from alliance_evaluation.domain.drafts import DraftInvalid, parse_text, validate
from alliance_evaluation.domain.facts import Branch, Classification, Institution, Meeting, PeriodFacts, Stint
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.domain.ruleset import RULESET_DIR, Ruleset, load_ruleset
from alliance_evaluation.domain.scoring import score_period
from alliance_evaluation.domain.whatif import compare, summary

pytestmark = pytest.mark.unit
Q3 = Period.parse("2026-Q3")


def published() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((RULESET_DIR / "2026.1.yaml").read_text(encoding="utf-8"))
    return raw


def draft(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(published()) | {"version": "2027.1-draft"}
    for path, value in changes.items():
        node = raw
        *parents, last = path.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    return raw


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(DraftInvalid) as caught:
        validate(raw)
    return {p.field: p.reason for p in caught.value.problems}


def test_a_published_ruleset_passes_as_a_draft_and_loads_as_the_file_does():
    rs = validate(draft())
    assert isinstance(rs, Ruleset) and rs.version == "2027.1-draft"
    assert rs.branch_weights == load_ruleset("2026.1").branch_weights


def test_every_problem_is_named_by_its_field_with_the_reason_in_chinese_first():
    raw = draft(org_life__frequency_share="9/10", learning__minutes_per_member_per_day=-5)
    raw["branch_weights"]["private"]["orglife"] = 10
    raw["grade_bands"][0]["min"] = "high"
    raw["compliance"]["veto"] = ["fatal"]
    del raw["calendar"]["grace_days"]["L3"]
    found = problems(raw)
    assert set(found) == {
        "org_life", "learning.minutes_per_member_per_day", "branch_weights.private.orglife",
        "grade_bands[0].min", "compliance.veto", "calendar.grace_days.L3",
    }  # fmt: skip
    assert found["org_life"].startswith("频次与出席占比之和须为 1") and " / " in found["org_life"]
    assert found["branch_weights.private.orglife"].startswith("未知项")


def test_a_draft_without_a_zero_band_or_a_version_is_refused():
    raw = draft()
    raw["grade_bands"] = [b for b in raw["grade_bands"] if b["min"] > 0]
    del raw["version"]
    assert set(problems(raw)) == {"grade_bands", "version"}


def test_text_that_is_not_yaml_names_the_line():
    with pytest.raises(DraftInvalid) as caught:
        parse_text("version: 1\nmeetings: [unclosed\n")
    assert caught.value.problems[0].field == "file" and "line" in caught.value.problems[0].reason
    with pytest.raises(DraftInvalid):
        parse_text("- just\n- a list\n")


def _facts() -> PeriodFacts:
    """Two institutions: i1's branch meets every month (org life strong), i2's branch learns more than it meets."""
    f = PeriodFacts()
    for inst, ownership in (("i1", "state_owned"), ("i2", "state_owned")):
        f.institutions[inst] = Institution(
            inst, f"机构{inst}", ((date(2020, 1, 1), Classification(ownership, "x", "L2")),)
        )
        f.branches[f"b{inst}"] = Branch(f"b{inst}", (inst,), "branch", f"支部{inst}", date(2020, 1, 1), None)
        f.stints.append(Stint(f"m{inst}", f"b{inst}", date(2025, 1, 1), None))
    received = datetime(2026, 9, 30, 4, tzinfo=UTC)
    for month in (7, 8, 9):
        for kind in ("branch_committee_meeting", "theme_party_day"):
            f.meetings.append(Meeting(f"i1-{month}-{kind}", "bi1", kind, date(2026, month, 3), 1, 1, received))
    f.meetings.append(Meeting("i2-7", "bi2", "branch_committee_meeting", date(2026, 7, 3), 1, 1, received))
    return f


def test_the_diff_says_who_moved_by_how_much_and_which_indicator_moved_them():
    facts = _facts()
    before_rs = load_ruleset("2026.1")
    heavier = draft()
    heavier["branch_weights"]["state_owned"] = {"org_life": 90, "learning": 0, "dues": 0, "public_activity": 0,
                                                "political": 0, "reporting": 10}  # fmt: skip
    after_rs = validate(heavier)
    before = score_period(facts, Q3, before_rs)
    after = score_period(facts, Q3, after_rs)
    moves = {(m.level, m.id): m for m in compare(before, after)}
    assert set(moves) == {("institution", "i1"), ("institution", "i2"), ("branch", "bi1"), ("branch", "bi2")}
    b1 = moves[("branch", "bi1")]
    assert b1.score_after > b1.score_before  # org life weighs more, and it met every month
    moved = {m.indicator for m in b1.indicators}
    assert moved == {"org_life", "reporting"}  # learning and dues scored 0 under both: not moved
    assert b1.indicators[0].indicator == "org_life"  # the largest move first
    i2 = moves[("institution", "i2")]
    assert i2.score_after != i2.score_before and any(m.scope == "branches" for m in i2.indicators)
    s = summary(moves.values())
    assert s["institution"]["objects"] == 2 and s["branch"]["by_indicator"]["org_life"] == 2


def test_the_same_ruleset_moves_nobody():
    facts = _facts()
    rs = load_ruleset("2026.1")
    moves = compare(score_period(facts, Q3, rs), score_period(facts, Q3, rs))
    assert moves and not any(m.changed or m.indicators for m in moves)
    assert [m.rank_before for m in moves if m.level == "institution"] == [
        m.rank_after for m in moves if m.level == "institution"
    ]


def test_an_institutions_moved_parts_are_the_parts_its_drill_down_shows():
    from alliance_evaluation.domain.parts import institution_indicators
    from alliance_evaluation.domain.whatif import _Points

    card = score_period(_facts(), Q3, load_ruleset("2026.1")).institutions[0]
    shown = {(line["indicator"], line["scope"]): line["points"] for line in institution_indicators(card)}
    fast = _Points().of(card)
    assert shown.keys() == fast.keys() or set(fast) <= set(shown)
    assert all(abs(fast[k] - shown[k]) <= 0.01 for k in fast), (fast, shown)
