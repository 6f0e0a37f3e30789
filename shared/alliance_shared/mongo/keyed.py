"""Reads and writes shaped for the embedded store (FerretDB 1.x on SQLite), harmless on MongoDB.

Measured on the embedded store as `make run` builds it (its `_id` index in use, see
`alliance_localinfra.ferretdb.PATCHES`): a find, update, replace or delete whose filter is `_id`
equality alone takes 1–2 ms whatever the collection's size; any other filter — `_id` with `$in`,
`_id` plus another field, any other field — reads and decodes every document of the collection;
an insert stays cheap. So: read many documents by `_id` one by one, concurrently; insert what is
new; replace the rest one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

Doc = dict[str, Any]

async def by_ids(collection: AsyncCollection[Doc], ids: Iterable[Any], projection: Doc | None = None) -> dict[Any, Doc]:
    """Documents by `_id` (missing ones left out), one `find_one` each, concurrently."""
    found = await asyncio.gather(*(collection.find_one({"_id": i}, projection) for i in dict.fromkeys(ids)))
    return {d["_id"]: d for d in found if d is not None}


async def replace_all(collection: AsyncCollection[Doc], docs: Sequence[Doc], existing: set[Any]) -> None:
    """Write `docs`: the new ones in one insert, those whose `_id` is in `existing` each replaced
    by `_id` (a bulk of replacements is avoided: FerretDB 1.24 answers some without `nModified`)."""
    fresh = [d for d in docs if d["_id"] not in existing]
    if fresh:
        await collection.insert_many(fresh, ordered=False)
    await asyncio.gather(
        *(collection.replace_one({"_id": d["_id"]}, d, upsert=True) for d in docs if d["_id"] in existing)
    )
