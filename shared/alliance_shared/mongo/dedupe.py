"""Dedupe marks for consumers: one document per event id a consumer group has applied, under a
unique `_id`, claimed for a whole Kafka batch in one unordered insert."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from .client import IndexSpec, duplicate_indexes

COLLECTION = "processed_events"

# Old marks go by a periodic `delete_many` on the indexed `at` (`expire_marks`). A TTL index would
# do it on MongoDB, but FerretDB refuses one (`createIndexes` with `expireAfterSeconds`: code 238,
# "not implemented yet"), so the plain delete is the one way, on both stores.
INDEXES: tuple[IndexSpec, ...] = (IndexSpec(COLLECTION, [("at", 1)]),)


@dataclass(frozen=True)
class Claim:
    """An event id about to be applied, and where on Kafka the message carrying it sits."""

    event_id: str
    topic: str
    partition: int
    offset: int


class MongoDedupeStore:
    """Which event ids a consumer group has applied.

    `claim` marks a batch's event ids in one unordered `insert_many` before its handlers run: the
    inserts the unique `_id` refuses are the duplicates. Each mark names the message that claimed
    it, so a message delivered again after a crash (its offset never committed) finds its own
    mark and is handled again: a claim never hides an event whose handling did not finish. A
    dead-lettered event's mark is `release`d, so a replay from the DLQ is handled."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], group: str, collection: str = COLLECTION) -> None:
        self._col = db[collection]
        self._group = group

    def _key(self, event_id: str) -> str:
        return f"{self._group}:{event_id}"

    async def claim(self, claims: Sequence[Claim]) -> set[int]:
        """Mark `claims`; returns the positions (in `claims`) of those another message already
        claimed: the duplicates. Two claims of one event id in the same call: the later one is."""
        if not claims:
            return set()
        now = datetime.now(UTC)
        docs = [{"_id": self._key(c.event_id), "group": self._group, "at": now, "topic": c.topic,
                 "partition": c.partition, "offset": c.offset} for c in claims]
        try:
            await self._col.insert_many(docs, ordered=False)
            return set()
        except BulkWriteError as exc:
            refused = duplicate_indexes(exc)
        marks = {d["_id"]: d async for d in self._col.find({"_id": {"$in": [docs[i]["_id"] for i in refused]}})}
        duplicates = set()
        for i in refused:
            mark, claim = marks.get(docs[i]["_id"]), claims[i]
            if mark is None:  # expired or released meanwhile: nothing says it was applied
                continue
            if (mark.get("topic"), mark.get("partition"), mark.get("offset")) != (
                    claim.topic, claim.partition, claim.offset):
                duplicates.add(i)
        return duplicates

    async def release(self, event_ids: Sequence[str]) -> None:
        """Forget `event_ids` (their handling failed for good): a later delivery is handled."""
        if event_ids:
            await self._col.delete_many({"_id": {"$in": [self._key(i) for i in event_ids]}})


async def expire_marks(db: AsyncDatabase[dict[str, Any]], older_than: timedelta,
                       collection: str = COLLECTION) -> int:
    """Delete every group's marks claimed more than `older_than` ago (keep it longer than the
    broker's retention: an event redelivered after its mark went would be applied again)."""
    result = await db[collection].delete_many({"at": {"$lt": datetime.now(UTC) - older_than}})
    return int(result.deleted_count)
