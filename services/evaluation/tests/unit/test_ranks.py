"""Filtering, ordering and competition ranks over rank rows (what the rankings pages do in memory)."""

from __future__ import annotations

import pytest
from alliance_evaluation.adapters.ranks import Quarter, RankCache, Ranker, matches, ordered, searched, shared

pytestmark = pytest.mark.unit

ROWS = [
    {"id": "b3", "name": "南山支部", "score": 80.0, "ownership": "private", "institution_ids": ["i2", "i1"]},
    {"id": "b1", "name": "福田支部", "score": 90.0, "ownership": "state_owned", "institution_ids": ["i1"]},
    {"id": "b2", "name": "罗湖支部", "score": 80.0, "ownership": "state_owned", "institution_ids": ["i1"]},
    {"id": "b4", "name": "Futian Youth", "score": None, "ownership": "private", "institution_ids": ["i2"]},
]


def ids(rows):
    return [r["id"] for r in rows]


def test_order_puts_missing_scores_last_when_descending_and_breaks_ties_by_id():
    assert ids(ordered(ROWS, "score", True)) == ["b1", "b2", "b3", "b4"]
    assert ids(ordered(ROWS, "score", False)) == ["b4", "b2", "b3", "b1"]
    assert ids(ordered(ROWS, "name", False)) == ["b4", "b3", "b1", "b2"]  # by code point, as the store sorts


def test_competition_ranks_count_only_higher_scores_in_the_group():
    ranker = Ranker(ROWS)
    assert [ranker.rank(r["score"]) for r in ordered(ROWS, "score", True)] == [1, 2, 2, 4]


def test_peer_and_institution_filters_and_the_search():
    assert ids(r for r in ROWS if matches(r, {"ownership": "state_owned"})) == ["b1", "b2"]
    assert ids(r for r in ROWS if matches(r, {"institution_ids": "i2"})) == ["b3", "b4"]  # a joint branch counts
    assert ids(r for r in ROWS if searched(r, "futian")) == ["b4"]
    assert ids(r for r in ROWS if searched(r, "b2")) == ["b2"]
    assert ids(r for r in ROWS if searched(r, "支部")) == ["b3", "b1", "b2"]


def test_rows_read_share_equal_keys_and_strings_and_keep_every_value_as_it_was():
    def doc(n: int) -> dict:  # what the driver gives: keys and strings of each document's own
        return {
            "_id": "".join(["2026-Q3|", "i", str(n)]),
            "institution": {
                "".join(["gr", "ade"]): "".join(["go", "od"]), "score": 80.0, "vetoed": False, "members": 1
            },
            "branches": [{"".join(["i", "d"]): f"b{n}", "meetings": {"".join(["2026-", "07"]): 2}, "score": 1.0}],
        }

    pool: dict[str, str] = {}
    first, second = shared(doc(1), pool), shared(doc(2), pool)
    assert first == doc(1) and second == doc(2)
    assert [type(v) for v in first["institution"].values()] == [str, float, bool, int]  # 1.0 stays a float
    (k1,), (k2,) = (list(d["institution"])[:1] for d in (first, second))
    assert k1 is k2 and first["institution"]["grade"] is second["institution"]["grade"]
    assert next(iter(first["branches"][0]["meetings"])) is next(iter(second["branches"][0]["meetings"]))


def test_a_quarter_patched_with_new_documents_keeps_the_others():
    docs = [{"_id": f"q|i{n}", "institution": {"id": f"i{n}"}, "branches": []} for n in range(3)]
    quarter = Quarter.of("v1", docs)
    fresh = {"_id": "q|i1", "institution": {"id": "i1", "score": 5.0}, "branches": []}
    patched = quarter.patched([fresh])
    assert sorted(d["_id"] for d in patched) == ["q|i0", "q|i1", "q|i2"]
    assert next(d for d in patched if d["_id"] == "q|i1") is fresh
    assert [r["id"] for r in Quarter.of("v2", patched).institutions] == ["i0", "i1", "i2"]


def a_quarter(period: str, institutions: int, branches_each: int) -> list[dict]:
    return [
        {
            "_id": f"{period}|i{n}",
            "institution": {"id": f"i{n}"},
            "branches": [{"id": f"i{n}-b{k}"} for k in range(branches_each)],
        }
        for n in range(institutions)
    ]


def test_the_rank_cache_is_bounded_by_rows_and_keeps_the_quarter_used_last():
    def no_store():
        raise AssertionError("put never reads the store")

    cache = RankCache(no_store, rebuild=lambda period: None, keep=8, keep_rows=70_000)
    cache.put("2026-Q1", "v", a_quarter("2026-Q1", 3_000, 10))  # a city quarter: 33,000 rows
    cache.put("2026-Q2", "v", a_quarter("2026-Q2", 3_000, 10))
    assert cache.periods() == ["2026-Q1", "2026-Q2"] and cache.rows() == 66_000
    cache.put("2026-Q3", "v", a_quarter("2026-Q3", 3_000, 10))  # a third would be 99,000 rows
    assert cache.periods() == ["2026-Q2", "2026-Q3"] and cache.rows() == 66_000
    cache.put("2026-Q4", "v", a_quarter("2026-Q4", 8_000, 10))  # alone over the bound: still kept
    assert cache.periods() == ["2026-Q4"] and cache.rows() == 88_000
    assert cache.held("2026-Q4", "v") is not None and cache.held("2026-Q3", "v") is None


def test_a_small_alliances_quarters_are_kept_up_to_the_count():
    cache = RankCache(lambda: None, rebuild=lambda period: None, keep=8, keep_rows=70_000)
    periods = [f"{year}-Q{q}" for year in (2024, 2025, 2026) for q in (1, 2, 3, 4)]
    for p in periods:
        cache.put(p, "v", a_quarter(p, 300, 2))  # 900 rows a quarter
    assert cache.periods() == periods[-8:] and cache.rows() == 8 * 900
