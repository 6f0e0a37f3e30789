"""Evaluation's own state: scores (the ranking and drill-down read model), computations (history,
for "why did it change"), the per-period overview, the lagging list, periods (open/closed), the
rescore queue, ratings, adjustments, appeals and the audit trail.

Documents that announce events carry them in their own single-document outbox (scores,
lagging, periods)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.mongo import IndexSpec, by_ids, is_duplicate_key, outbox_fields, outbox_push, replace_all
from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from . import ranks

Doc = dict[str, Any]
OUTBOX_COLLECTIONS = ("scores", "lagging", "periods")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

INDEXES = [
    IndexSpec("scores", [("period", 1), ("object_type", 1), ("score", -1)]),
    IndexSpec("scores", [("period", 1), ("object_type", 1), ("ownership", 1), ("score", -1)]),
    IndexSpec("scores", [("period", 1), ("institution_ids", 1)]),
    IndexSpec("computations", [("period", 1), ("object_id", 1), ("seq", -1)]),
    IndexSpec("lagging", [("status", 1)]),
    IndexSpec("lagging", [("institution_id", 1)]),
    IndexSpec("appeals", [("status", 1)]),
]


def score_key(period: str, object_type: str, object_id: str) -> str:
    return f"{period}|{object_type}|{object_id}"


class ReadModels:
    def __init__(
        self,
        db: AsyncDatabase[Doc] | Callable[[], AsyncDatabase[Doc]],
        announce: Callable[[str, Any], None] = lambda collection, doc_id: None,
    ) -> None:
        # a callable: the database exists only once the runtime has started
        self._db = db
        # told (collection, _id) of every document written with outbox events: the relay reads
        # just those (a pass over `scores` read every card on the embedded store)
        self._announce = announce
        self.ranks = ranks.RankCache(lambda: self.db, self.rebuild_ranks)
        # the work queue: only the lagging scan changes it, and it says so when it is done
        self.lagging_queue = ranks.VersionedList(
            lambda: self.db, "lagging", {"status": {"$in": ["lagging", "at_risk"]}}
        )

    @property
    def db(self) -> AsyncDatabase[Doc]:
        return self._db() if callable(self._db) else self._db

    # -- periods and the rescore queue --------------------------------------------------------
    async def period(self, period: str) -> Doc | None:
        return await self.db.periods.find_one({"_id": period})

    async def closed_periods(self) -> dict[str, datetime]:
        return {d["_id"]: d["closed_at"] async for d in self.db.periods.find({"status": "closed"})}

    async def close_period(self, period: str, fields: Doc, events: Sequence[tuple[EventPayload, CloudEvent]]) -> bool:
        """Close once: False when it was already closed."""
        try:
            await self.db.periods.update_one(
                {"_id": period, "status": {"$ne": "closed"}},
                outbox_push({"$set": {"status": "closed", **fields}}, events),
                upsert=True,
            )
        except Exception as exc:
            if is_duplicate_key(exc):
                return False
            raise
        self._announce("periods", period)
        return True

    async def record_late(self, period: str, event_id: str, at: datetime) -> None:
        await self.db.periods.update_one(
            {"_id": period, "late_events.event_id": {"$ne": event_id}},
            {"$push": {"late_events": {"event_id": event_id, "at": at}}},
        )

    async def mark_dirty(self, period: str, institution_ids: Sequence[str], at: datetime) -> None:
        await self.mark_dirty_many({period: set(institution_ids)}, at)

    async def mark_dirty_many(self, pending: dict[str, set[str]], at: datetime) -> None:
        """Queue (period, institution) pairs for rescoring, in one command."""
        writes = [
            UpdateOne(
                {"_id": f"{period}|{i}"},
                {"$set": {"period": period, "institution_id": i, "at": at}},
                upsert=True,
            )
            for period, ids in sorted(pending.items())
            for i in sorted(ids)
        ]
        if writes:
            await self.db.dirty.bulk_write(writes)

    async def dirty(self, limit: int = 500) -> list[Doc]:
        return await self.db.dirty.find({}).sort("at", 1).to_list(limit)

    async def clean(self, entries: Sequence[Doc]) -> None:
        for e in entries:  # only if not dirtied again while scoring
            await self.db.dirty.delete_one({"_id": e["_id"], "at": e["at"]})

    # -- scores and computations --------------------------------------------------------------
    async def score(self, period: str, object_type: str, object_id: str) -> Doc | None:
        return await self.db.scores.find_one({"_id": score_key(period, object_type, object_id)}, {"outbox": 0})

    async def save_batch(
        self, computations: list[Doc], scores: list[tuple[Doc, Sequence[tuple[EventPayload, CloudEvent]]]]
    ) -> None:
        """New score documents are inserted, changed ones replaced (`replace_all`), each carrying
        the events its outbox still holds. Only the scorer writes score documents, under its lock."""
        if computations:
            await self.db.computations.insert_many(computations, ordered=False)
        if not scores:
            return
        existing = await by_ids(self.db.scores, [d["_id"] for d, _ in scores], {"outbox": 1, "outbox_seq": 1})
        docs = []
        for doc, events in scores:
            old = existing.get(doc["_id"]) or {}
            fresh = outbox_fields(events)
            carried = [*(old.get("outbox") or []), *fresh["outbox"]]
            docs.append(
                {
                    **doc,
                    "outbox": carried,
                    "outbox_pending": bool(carried),
                    "outbox_seq": int(old.get("outbox_seq") or 0) + 1,
                }
            )
        await replace_all(self.db.scores, docs, set(existing))
        for doc in docs:
            if doc["outbox"]:
                self._announce("scores", doc["_id"])

    async def digests(self, period: str, keys: Sequence[str]) -> dict[str, Doc]:
        return await by_ids(self.db.scores, keys, {"digest": 1, "computation_id": 1, "seq": 1})

    async def save_computation(self, doc: Doc) -> None:
        await self.db.computations.insert_one(doc)

    async def computation(self, computation_id: str) -> Doc | None:
        return await self.db.computations.find_one({"_id": computation_id})

    async def computations_of(self, period: str, object_id: str, limit: int = 20) -> list[Doc]:
        return (
            await self.db.computations.find({"period": period, "object_id": object_id}, {"card": 0})
            .sort("seq", -1)
            .to_list(limit)
        )

    async def rank_documents(self, period: str) -> list[Doc]:
        """Every rank document of `period`, read fresh (the overview is built from them)."""
        return await ranks.read(self.db, period)

    async def ensure_ranks(self, period: str) -> None:
        """Before scoring a chunk of a quarter scored before rank rows existed: build them all."""
        db = self.db
        if await db[ranks.collection_of(period)].find_one({}, {"_id": 1}) is None and await db.overview.find_one(
            {"_id": period}, {"_id": 1}
        ):
            await self.rebuild_ranks(period)

    async def rebuild_ranks(self, period: str) -> None:
        """Write `period`'s rank rows from its score cards and meetings (cards stored before rank
        rows existed; the scorer keeps them current from then on)."""
        fields = {k: 1 for k in ("object_id", *ranks.INSTITUTION_FIELDS, *ranks.BRANCH_FIELDS)}
        institutions = await self.db.scores.find({"period": period, "object_type": "institution"}, fields).to_list(None)
        branches = await self.db.scores.find({"period": period, "object_type": "branch"}, fields).to_list(None)
        days: dict[str, list[str]] = {}
        query = {"period": period, "type": "fpba.meeting.held.v1", "superseded_by": None}
        async for a in self.db.activities.find(query, {"organization_id": 1, "held_on": 1}):
            days.setdefault(a["organization_id"], []).append(a["held_on"])
        await ranks.save(self.db, period, ranks.institution_documents(period, institutions, branches, days))

    async def branch_cards(self, period: str, institution_ids: Sequence[str] | None = None) -> list[Doc]:
        query: Doc = {"period": period, "object_type": "branch"}
        if institution_ids is not None:
            query["institution_ids"] = {"$in": list(institution_ids)}
        return await self.db.scores.find(query, {"outbox": 0}).sort("_id", 1).to_list(None)

    async def save_overview(self, period: str, doc: Doc, rank_documents: list[Doc] | None = None) -> None:
        """Every save carries a new `version`: readers holding the quarter's rank rows reload them
        (this process keeps `rank_documents`, the rows the overview was built from)."""
        version = ranks.new_version()
        await self.db.overview.replace_one({"_id": period}, {**doc, "version": version}, upsert=True)
        if rank_documents is not None:
            self.ranks.put(period, version, rank_documents)

    async def overview(self, period: str) -> Doc | None:
        return await self.db.overview.find_one({"_id": period})

    # -- lagging --------------------------------------------------------------------------------
    async def lagging_states(self) -> dict[str, Doc]:
        return {d["_id"]: d async for d in self.db.lagging.find({}, {"outbox": 0})}

    async def save_lagging(self, org_id: str, fields: Doc, events: Sequence[tuple[EventPayload, CloudEvent]]) -> None:
        await self.db.lagging.update_one({"_id": org_id}, outbox_push({"$set": fields}, events), upsert=True)
        if events:
            self._announce("lagging", org_id)

    async def lagging_list(self, institution_id: str | None, skip: int, limit: int) -> tuple[list[Doc], int]:
        return page_of_queue(await self.lagging_queue.items(), institution_id, None, skip, limit)

    async def deliveries_for(self, org_ids: Sequence[str]) -> dict[str, list[Doc]]:
        """Each organisation's reminders, newest first (through `delivery_index`: `_id` reads only)."""
        index = await by_ids(self.db.delivery_index, org_ids)
        ids = sorted({i for d in index.values() for i in d.get("ids", [])})
        out: dict[str, list[Doc]] = {}
        for d in sorted((await by_ids(self.db.deliveries, ids)).values(), key=lambda d: d["_id"]):
            out.setdefault(d["organization_id"], []).append(d)
        for items in out.values():
            items.sort(key=lambda d: d.get("at") or EPOCH, reverse=True)
        return out

    # -- ratings, adjustments, appeals, audit ------------------------------------------------
    async def save_rating(self, doc: Doc) -> None:
        await self.db.ratings.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def insert(self, collection: str, doc: Doc) -> None:
        await self.db[collection].insert_one(doc)

    async def get(self, collection: str, doc_id: str) -> Doc | None:
        return await self.db[collection].find_one({"_id": doc_id})

    async def decide(self, collection: str, doc_id: str, expected_status: str, fields: Doc) -> Doc | None:
        """Move a pending case on, only if still in `expected_status` (two deciders cannot both win)."""
        return await self.db[collection].find_one_and_update(
            {"_id": doc_id, "status": expected_status}, {"$set": fields}, return_document=ReturnDocument.AFTER
        )

    async def audit(self, entry: Doc) -> None:
        await self.db.audit.insert_one(entry)

    async def rejections_by_institution(self, period: str) -> dict[str, int]:
        out: dict[str, int] = {}
        async for d in self.db.rejections.find({"period": period}, {"institution_id": 1}):
            key = d.get("institution_id") or ""
            out[key] = out.get(key, 0) + 1
        return out


def page_of_queue(
    docs: list[Doc], institution_id: str | None, status: str | None, skip: int, limit: int
) -> tuple[list[Doc], int]:
    """Lagging and at-risk branches, longest silence first (ties by id)."""
    found = [
        d
        for d in docs
        if d.get("status") in ((status,) if status else ("lagging", "at_risk"))
        and (not institution_id or d.get("institution_id") == institution_id)
    ]
    found.sort(key=lambda d: d["_id"])
    found.sort(key=lambda d: d.get("days_since_last_meeting") or 0, reverse=True)
    return found[skip : skip + limit], len(found)
