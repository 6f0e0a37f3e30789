"""Reads by `_id` and replacements shaped for the embedded store, against the real store."""

from __future__ import annotations

import pytest
from alliance_shared.mongo import by_ids, replace_all

pytestmark = pytest.mark.integration


async def test_by_ids_returns_what_exists_once_each(db):
    await db.things.insert_many([{"_id": f"t{i}", "n": i, "big": "x" * 100} for i in range(5)])
    found = await by_ids(db.things, ["t3", "t1", "missing", "t3"], {"n": 1})
    assert found == {"t3": {"_id": "t3", "n": 3}, "t1": {"_id": "t1", "n": 1}}
    assert await by_ids(db.things, []) == {}


@pytest.mark.parametrize("replaced", [3, 30])
async def test_replace_all_inserts_the_new_and_replaces_the_stored(db, replaced):
    name = f"replace_{replaced}"
    await db[name].insert_many([{"_id": f"k{i:03d}", "v": 0, "stale": True} for i in range(40)])
    again = [{"_id": f"k{i:03d}", "v": 1} for i in range(replaced)]
    fresh = [{"_id": f"n{i:03d}", "v": 2} for i in range(4)]
    await replace_all(db[name], again + fresh, {d["_id"] for d in again})
    docs = {d["_id"]: d async for d in db[name].find({})}
    assert len(docs) == 44
    assert all(docs[d["_id"]] == d for d in again + fresh)  # replaced whole: no "stale" left
    assert docs["k039"] == {"_id": "k039", "v": 0, "stale": True}  # the others untouched
