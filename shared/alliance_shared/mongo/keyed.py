"""Reads and writes shaped for the embedded store (FerretDB 1.x on SQLite), harmless on MongoDB.

Measured on the embedded store: a `find_one` by `_id` stays ~1 ms whatever the collection's size;
an update or delete filtered on `_id` alone costs a pass over the collection's keys (5 ms at 3,000
documents, 40 ms at 30,000); any other filter — `_id` with `$in`, `_id` plus another field, any
field — reads and decodes every document; an insert stays cheap. So: read many documents by `_id`
one by one, concurrently; insert what is new; replace a few one by one and many at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

Doc = dict[str, Any]

REPLACE_ONE_BY_ONE = 20


async def by_ids(collection: AsyncCollection[Doc], ids: Iterable[Any], projection: Doc | None = None) -> dict[Any, Doc]:
    """Documents by `_id` (missing ones left out), one `find_one` each, concurrently."""
    found = await asyncio.gather(*(collection.find_one({"_id": i}, projection) for i in dict.fromkeys(ids)))
    return {d["_id"]: d for d in found if d is not None}


async def replace_all(collection: AsyncCollection[Doc], docs: Sequence[Doc], existing: set[Any]) -> None:
    """Write `docs`; those whose `_id` is in `existing` replace a stored document.

    New ones go in one insert; up to `REPLACE_ONE_BY_ONE` replacements are made one by one, more
    by one delete of them all and one insert. A crash between those two loses the documents until
    their writer writes them again: use it only where the writer does so by itself (say why)."""
    fresh = [d for d in docs if d["_id"] not in existing]
    again = [d for d in docs if d["_id"] in existing]
    if len(again) <= REPLACE_ONE_BY_ONE:
        for d in again:
            await collection.replace_one({"_id": d["_id"]}, d, upsert=True)
    else:
        await collection.delete_many({"_id": {"$in": sorted(d["_id"] for d in again)}})
        fresh += again
    if fresh:
        await collection.insert_many(fresh, ordered=False)
