"""A unit with too little due or too little reported to judge is 待评 (no data), never 不合格: apart
in the overview, after the ranked rows in a ranking, and never given a rank."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from alliance_evaluation.adapters import dashboard_views
from alliance_evaluation.adapters.ranks import Quarter
from alliance_evaluation.adapters.views import build_overview
from alliance_evaluation.domain.facts import Branch, Classification, Institution, Meeting, PeriodFacts, Stint
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.domain.ruleset import load_ruleset
from alliance_evaluation.domain.scoring import score_period
from alliance_shared.testing import at

pytestmark = pytest.mark.unit
Q3 = Period.parse("2026-Q3")
RS = load_ruleset("2026.1")


def two_institutions() -> PeriodFacts:
    """`silent` reported nothing at all; `short` reported one meeting and fell short."""
    f = PeriodFacts()
    for inst in ("silent", "short"):
        f.institutions[inst] = Institution(inst, inst, ((date(2020, 1, 1), Classification("private", "x", "L2")),))
        f.branches[f"b-{inst}"] = Branch(f"b-{inst}", (inst,), "branch", inst, date(2020, 1, 1))
        f.stints.append(Stint(f"m-{inst}", f"b-{inst}", date(2025, 1, 1), None))
    f.meetings.append(Meeting("mt-1", "b-short", "theme_party_day", date(2026, 7, 9), 1, 1, at(2026, 7, 10)))
    return f


def test_the_ruleset_says_when_a_unit_has_no_data():
    assert RS.no_data.label == "待评" and RS.no_data.min_reported >= 1


def test_a_branch_that_reported_nothing_is_no_data_and_one_that_fell_short_fails():
    result = score_period(two_institutions(), Q3, RS)
    grades = {c.object_id: c.grade for c in (*result.branches, *result.institutions)}
    assert grades == {"b-silent": "no_data", "silent": "no_data", "b-short": "fail", "short": "fail"}
    assert RS.label_of("no_data") == "待评"


def test_a_branch_with_nothing_due_yet_is_no_data():
    result = score_period(two_institutions(), Period.parse("2026-Q4"), RS, today=date(2026, 10, 2))
    assert {c.grade for c in result.branches} == {"no_data"}


def rank_doc(inst: str, score: float, grade: str) -> dict[str, Any]:
    row = {"id": inst, "name": inst, "score": score, "grade": grade, "ownership": "private"}
    return {"_id": f"2026-Q3|{inst}", "institution": row, "branches": []}


DOCS = [rank_doc("a", 80.0, "good"), rank_doc("b", 30.0, "fail"), rank_doc("c", 0.0, "no_data")]


def test_the_overview_counts_no_data_apart_from_the_grade_distribution():
    overview = build_overview("2026-Q3", DOCS, {}, at(2026, 10, 12))
    assert overview["grades"] == {"excellent": 0, "good": 1, "pass": 0, "fail": 1}
    assert overview["no_data"] == 1 and overview["institutions"] == 3


class FakeRanks:
    async def quarter(self, period: str) -> Quarter:
        return Quarter.of("v1", DOCS)


class FakeModels:
    ranks = FakeRanks()


async def test_a_ranking_lists_no_data_after_the_ranked_rows_without_a_rank():
    page = await dashboard_views.rankings(FakeModels(), "2026-Q3", "institution", {}, None, "score", True, 1, 50)  # type: ignore[arg-type]
    assert [(i["id"], i["rank"]) for i in page["items"]] == [("a", 1), ("b", 2), ("c", None)]
    ascending = await dashboard_views.rankings(FakeModels(), "2026-Q3", "institution", {}, None, "score", False, 1, 50)  # type: ignore[arg-type]
    assert [i["id"] for i in ascending["items"]] == ["b", "a", "c"]  # 待评 last whatever the order
    rows = await dashboard_views.ranking_rows(FakeModels(), "2026-Q3", "institution", {}, None, 10)  # type: ignore[arg-type]
    assert [(r["object_id"], r["rank"]) for r in rows] == [("a", 1), ("b", 2), ("c", None)]
