"""Dedupe marks for consumers: one document per applied event id, under a unique `_id`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from .client import is_duplicate_key


class MongoDedupeStore:
    """Which event ids a consumer group has applied. Old marks are removed by `expire`, run
    periodically (no TTL index: the embedded store has none)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], group: str, collection: str = "processed_events") -> None:
        self._col = db[collection]
        self._group = group

    def _key(self, event_id: str) -> str:
        return f"{self._group}:{event_id}"

    async def seen(self, event_id: str) -> bool:
        return await self._col.find_one({"_id": self._key(event_id)}, {"_id": 1}) is not None

    async def mark(self, event_id: str) -> None:
        try:
            await self._col.insert_one({"_id": self._key(event_id), "group": self._group,
                                        "at": datetime.now(UTC)})
        except Exception as exc:
            if not is_duplicate_key(exc):
                raise

    async def expire(self, older_than: timedelta) -> int:
        result = await self._col.delete_many({"group": self._group,
                                              "at": {"$lt": datetime.now(UTC) - older_than}})
        return int(result.deleted_count)
