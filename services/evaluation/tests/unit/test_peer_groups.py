"""Rankings rank within a peer group (同类组): the ownership class by default, optionally narrowed by
sector and reporting level; each row says its group and its rank in it. An all-institutions view
says it is not a peer ranking. The printable report's and the export's ranks are the same."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alliance_evaluation.adapters import dashboard_views as dv
from alliance_evaluation.adapters import views
from alliance_evaluation.adapters.ranks import Quarter

pytestmark = pytest.mark.unit
PERIOD = "2026-Q4"


def row(
    i: str, ownership: str, score: float | None, sector: str = "银行", level: str = "L2", grade: str = "good"
) -> dict[str, Any]:
    return {"id": i, "name": f"机构{i}", "score": score, "grade": grade, "ownership": ownership, "sector": sector,
            "reporting_level": level, "institution_id": i}


ROWS = [
    row("e1", "emerging", 98.0, "金融科技", "L1", "excellent"),
    row("e2", "emerging", 95.0, "支付", "L1", "excellent"),
    row("e3", "emerging", 40.0, "支付", "L1", "fail"),
    row("s1", "state_owned", 88.0, "银行", "L3"),
    row("s2", "state_owned", 70.0, "证券", "L2", "pass"),
    row("s3", "state_owned", 70.0, "银行", "L2", "pass"),
    row("p1", "private", 80.0, "银行", "L2"),
    row("p2", "private", 50.0, "银行", "L1", "fail"),
    row("p3", "private", 30.0, "期货", "L1", "no_data"),
]


class FakeRanks:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._quarter = Quarter("v1", institutions=list(rows))

    async def quarter(self, period: str) -> Quarter:
        return self._quarter


class FakeModels:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.ranks = FakeRanks(rows)


def rankings(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"level": "institution", "peer": {}, "q": None, "sort": "score", "descending": True,
                            "page": 1, "page_size": 50} | kw
    return asyncio.run(dv.rankings(FakeModels(ROWS), PERIOD, **args))  # type: ignore[arg-type]


def by_id(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in answer["items"]}


def test_the_default_ranking_ranks_each_institution_within_its_ownership_class():
    answer = rankings()
    items = by_id(answer)
    # the best state-owned institution is first of its class, though emerging ones score higher
    assert items["s1"]["rank"] == 1 and items["s1"]["group"]["ownership"] == "state_owned"
    assert items["p1"]["rank"] == 1 and items["e1"]["rank"] == 1
    assert (items["s2"]["rank"], items["s3"]["rank"]) == (2, 2)  # a tie shares the rank
    assert items["e3"]["rank"] == 3 and items["e3"]["group_size"] == 3
    assert answer["grouping"] == "ownership" and answer["rank_label"].startswith("组内排名")


def test_the_rows_come_group_by_group_each_best_first_with_no_data_last_in_its_group():
    ids = [i["id"] for i in rankings()["items"]]
    assert ids == ["s1", "s2", "s3", "p1", "p2", "p3", "e1", "e2", "e3"]
    assert by_id(rankings())["p3"]["rank"] is None  # 待评: in its group, never ranked


def test_a_group_narrowed_by_sector_and_reporting_level_ranks_only_its_own():
    items = by_id(rankings(grouping="ownership_sector"))
    assert items["s3"]["rank"] == 2 and items["s2"]["rank"] == 1  # 证券 alone, 银行 with s1
    assert items["s2"]["group"] == {"key": "state_owned|证券", "ownership": "state_owned", "sector": "证券", "size": 1}
    items = by_id(rankings(grouping="ownership_level"))
    assert (items["s1"]["rank"], items["s2"]["rank"], items["s3"]["rank"]) == (1, 1, 1)  # L3 alone, L2 tied


def test_the_all_institutions_view_is_labelled_as_such_and_not_a_peer_ranking():
    answer = rankings(grouping="all")
    assert answer["grouping"] == "all" and "组内排名" not in answer["rank_label"]
    assert answer["rank_label"].startswith("全部机构排名")
    items = by_id(answer)
    assert items["e1"]["rank"] == 1 and items["s1"]["rank"] == 3 and items["s1"]["group"]["key"] == "all"


def test_a_filter_picks_one_group_and_keeps_its_ranks():
    answer = rankings(peer={"ownership": "private"})
    assert [(i["id"], i["rank"]) for i in answer["items"]] == [("p1", 1), ("p2", 2), ("p3", None)]
    assert answer["groups"] == [{"key": "private", "ownership": "private", "size": 3}]


def test_the_export_rows_carry_the_same_group_ranks():
    rows = asyncio.run(dv.ranking_rows(FakeModels(ROWS), PERIOD, "institution", {}, None, 100))  # type: ignore[arg-type]
    ranks = {r["object_id"]: (r["group"], r["rank"]) for r in rows}
    assert ranks["s1"] == ("state_owned", 1) and ranks["e1"] == ("emerging", 1) and ranks["p3"][1] is None


def test_the_public_scores_listing_adds_each_rows_group_and_rank_within_it():
    answer = asyncio.run(views.ranking(FakeModels(ROWS), PERIOD, "institution", {}, 1, 50))  # type: ignore[arg-type]
    items = by_id(answer)
    assert items["s1"]["group_rank"] == 1 and items["s1"]["group"]["ownership"] == "state_owned"
    assert items["e1"]["rank"] == 1 and items["s1"]["rank"] == 3  # the listing's own order is unchanged
