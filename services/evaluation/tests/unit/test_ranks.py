"""Filtering, ordering and competition ranks over rank rows (what the rankings pages do in memory)."""

from __future__ import annotations

import pytest
from alliance_evaluation.adapters.ranks import Ranker, matches, ordered, searched

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
