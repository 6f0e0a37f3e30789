"""The audit trail's collection (`audit`): evaluation's own records and those registry and
notification announced, one document per record under its time-ordered id. Every read is a
page: an equality on one indexed field (or none), an `_id` range for the time bounds and the
cursor, newest first, at most `limit` documents: each filter's compound index (field, `_id`)
serves it on MongoDB."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from alliance_shared.audit import audit_document, audit_record
from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.mongo import IndexSpec, is_duplicate_key
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

Doc = dict[str, Any]
AUDIT = "audit"
FILTERS = ("actor", "action", "object_id", "institution_id")  # each served by (field, _id)

INDEXES = [IndexSpec(AUDIT, [(f, 1), ("_id", -1)]) for f in FILTERS]


class AuditTrail:
    def __init__(self, db: Callable[[], AsyncDatabase[Doc]]) -> None:
        self._db = db

    async def write(self, doc: Mapping[str, Any]) -> bool:
        """Store a record once: False when its id is stored already (an announced record redelivered)."""
        try:
            await self._db()[AUDIT].insert_one(dict(doc))
        except Exception as exc:
            if is_duplicate_key(exc):
                return False
            raise
        return True

    async def page(
        self, equal: Mapping[str, str], id_from: str | None, id_before: str | None, limit: int
    ) -> list[Doc]:
        """Up to `limit` records matching `equal`, with `id_from <= _id < id_before`, newest first."""
        query: Doc = dict(equal)
        bounds: Doc = {}
        if id_from:
            bounds["$gte"] = id_from
        if id_before:
            bounds["$lt"] = id_before
        if bounds:
            query["_id"] = bounds
        cursor = self._db()[AUDIT].find(query, {"outbox": 0, "outbox_pending": 0, "outbox_seq": 0})
        return await cursor.sort("_id", DESCENDING).limit(limit).to_list(limit)

    async def adopt_legacy(self) -> int:
        """Rewrite records stored before the one shape (no `object_type`) in it, once, at start-up."""
        old = await self._db()[AUDIT].find({"object_type": {"$exists": False}}).to_list(None)
        if old:
            await self._db()[AUDIT].insert_many([legacy_document(d) for d in old])
            await self._db()[AUDIT].delete_many({"_id": {"$in": [d["_id"] for d in old]}})
        return len(old)


def legacy_document(entry: dict[str, Any]) -> dict[str, Any]:
    """A record written in the older free shape (`by`, `role`, `at`, `action` and any fields) in
    the one shape: the fields it names are kept as details."""
    if "actor" in entry and "object_type" in entry:
        return entry
    rest = {k: v for k, v in entry.items() if k not in ("_id", "by", "role", "at", "action")}
    at = entry.get("at") or datetime.now(UTC)
    who = Principal(subject=str(entry.get("by") or "system"), role=Role(entry["role"]) if entry.get("role") else None)
    object_id = next((str(rest[k]) for k in ("adjustment_id", "appeal_id", "exemption_id", "rating_id",
                                             "organization_id", "period") if rest.get(k)), "—")
    return audit_document(audit_record(
        who, service="evaluation", action=str(entry.get("action") or "unknown"), object_type="case",
        object_id=object_id, at=at, period=rest.get("period"), details=rest,
    ))  # fmt: skip
