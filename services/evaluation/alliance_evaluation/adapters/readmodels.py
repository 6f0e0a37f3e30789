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
from alliance_shared.ids import uuid4
from alliance_shared.mongo import IndexSpec, is_duplicate_key, outbox_fields, outbox_push, update_versioned
from pymongo import InsertOne, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from . import ranks
from .audit import AuditTrail, legacy_document

Doc = dict[str, Any]
OUTBOX_COLLECTIONS = ("scores", "lagging", "periods")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CARD_BATCH = 500  # cards a workbook reads, and writes in a thread, at a time

INDEXES = [
    IndexSpec("scores", [("period", 1), ("object_type", 1), ("score", -1)]),
    IndexSpec("scores", [("period", 1), ("object_type", 1), ("ownership", 1), ("score", -1)]),
    IndexSpec("scores", [("period", 1), ("institution_ids", 1)]),
    IndexSpec("computations", [("period", 1), ("object_id", 1), ("seq", -1)]),
    IndexSpec("lagging", [("status", 1)]),
    IndexSpec("lagging", [("institution_id", 1)]),
    IndexSpec("appeals", [("status", 1)]),
    IndexSpec("appeals", [("institution_id", 1)]),
    IndexSpec("adjustments", [("status", 1)]),  # the queue of those awaiting a second approver
    IndexSpec("adjustments", [("institution_id", 1)]),
    IndexSpec("exemptions", [("institution_id", 1)]),
    IndexSpec("follow_ups", [("institution_id", 1)]),
]


def _cards_query(period: str, object_type: str | None, institution_ids: Sequence[str] | None) -> Doc:
    query: Doc = {"period": period, "object_type": object_type or {"$in": ["institution", "branch"]}}
    if institution_ids is not None:
        query["institution_ids"] = {"$in": list(institution_ids)}
    return query


def score_key(period: str, object_type: str, object_id: str) -> str:
    return f"{period}|{object_type}|{object_id}"


class ReadModels:
    def __init__(
        self,
        db: AsyncDatabase[Doc] | Callable[[], AsyncDatabase[Doc]],
        wake_relay: Callable[[], None] = lambda: None,
        rank_cache_rows: int = ranks.KEEP_ROWS,
    ) -> None:
        # a callable: the database exists only once the runtime has started
        self._db = db
        # called after a write that added outbox events, so that they are relayed at once
        self._wake_relay = wake_relay
        self.ranks = ranks.RankCache(lambda: self.db, self.rebuild_ranks, keep_rows=rank_cache_rows)
        self.trail = AuditTrail(lambda: self.db)  # the platform's audit trail
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
        self._wake_relay()
        return True

    async def record_late(self, period: str, event_id: str, at: datetime) -> None:
        await self.db.periods.update_one(
            {"_id": period, "late_events.event_id": {"$ne": event_id}},
            {"$push": {"late_events": {"event_id": event_id, "at": at}}},
        )

    async def mark_dirty(self, period: str, institution_ids: Sequence[str], at: datetime) -> None:
        await self.mark_dirty_many({period: set(institution_ids)}, at)

    async def mark_dirty_many(self, pending: dict[str, set[str]], at: datetime, *, unlocked: bool = False) -> None:
        """Queue (period, institution) pairs for rescoring, in one insert (`unlocked`: pairs of a
        closed period that a report admitted under an unlock exception rescores). Each mark is a
        document of its own: a rescore deletes the marks it read, so a pair marked again while it
        was being scored stays queued. Inserting is what the store does cheaply: an upsert per pair
        was the consumer's costliest command (`bench/evaluation_rescore.py --commands`)."""
        extra = {"unlocked": True} if unlocked else {}
        marks = [
            {"_id": f"{period}|{i}|{uuid4().hex[:16]}", "period": period, "institution_id": i, "at": at, **extra}
            for period, ids in sorted(pending.items())
            for i in sorted(ids)
        ]
        if marks:
            await self.db.dirty.insert_many(marks, ordered=False)

    async def dirty(self, limit: int = 500) -> list[Doc]:
        """The oldest `limit` marks (a pair may be marked more than once)."""
        return await self.db.dirty.find({}).sort("at", 1).to_list(limit)

    async def clean(self, entries: Sequence[Doc]) -> None:
        """Delete the marks a rescore read (those added while it scored stay)."""
        ids = [e["_id"] for e in entries]
        for start in range(0, len(ids), 5_000):
            await self.db.dirty.delete_many({"_id": {"$in": ids[start : start + 5_000]}})

    # -- scores and computations --------------------------------------------------------------
    async def score(self, period: str, object_type: str, object_id: str) -> Doc | None:
        return await self.db.scores.find_one({"_id": score_key(period, object_type, object_id)}, {"outbox": 0})

    async def save_batch(
        self,
        computations: list[Doc],
        scores: list[tuple[Doc, Sequence[tuple[EventPayload, CloudEvent]]]],
        existing: dict[str, Doc] | None = None,
    ) -> None:
        """New score documents are inserted, changed ones replaced, each carrying the events its
        outbox still holds (`existing`: the stored documents with their `outbox` and `outbox_seq`,
        as `digests` read them; read here when not given). Only the scorer writes score
        documents, under its lock."""
        if computations:
            await self.db.computations.insert_many(computations, ordered=False)
        if not scores:
            return
        if existing is None:
            existing = await self.digests([d["_id"] for d, _ in scores])
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
        await self.db.scores.bulk_write(
            [ReplaceOne({"_id": d["_id"]}, d) if d["_id"] in existing else InsertOne(d) for d in docs], ordered=False
        )
        if any(d["outbox"] for d in docs):
            self._wake_relay()

    async def digests(self, keys: Sequence[str]) -> dict[str, Doc]:
        """The stored score documents among `keys`: what a rescore compares and carries over."""
        fields = {"digest": 1, "computation_id": 1, "seq": 1, "outbox": 1, "outbox_seq": 1}
        return {d["_id"]: d async for d in self.db.scores.find({"_id": {"$in": list(keys)}}, fields)}

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

    async def save_ranks(self, docs: Sequence[Doc]) -> None:
        await ranks.save(self.db, docs)

    async def ensure_ranks(self, period: str) -> None:
        """Before scoring a chunk of a quarter scored before rank rows existed: build them all."""
        db = self.db
        if not await ranks.exists(db, period) and await db.overview.find_one({"_id": period}, {"_id": 1}):
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
        await ranks.save(self.db, ranks.institution_documents(period, institutions, branches, days))

    async def scores_by_keys(self, keys: Sequence[str], fields: Doc | None = None) -> dict[str, Doc]:
        """Score documents by `_id` (missing ones left out), without their outbox."""
        if not keys:
            return {}
        projection = fields if fields is not None else {"outbox": 0}
        return {d["_id"]: d async for d in self.db.scores.find({"_id": {"$in": list(dict.fromkeys(keys))}}, projection)}

    async def count_cards(self, period: str, institution_ids: Sequence[str] | None = None) -> int:
        return int(await self.db.scores.count_documents(_cards_query(period, None, institution_ids)))

    def cards(self, period: str, object_type: str, institution_ids: Sequence[str] | None = None) -> Any:
        """A quarter's cards of one type, best first then by id (the workbook's ranks), as a cursor
        (a workbook of the city reads them a batch at a time), without the evidence ids and
        details a workbook does not show."""
        omitted = {"outbox": 0, "breakdown.evidence": 0, "breakdown.details": 0}
        found = self.db.scores.find(_cards_query(period, object_type, institution_ids), omitted)
        return found.sort([("score", -1), ("object_id", 1)]).batch_size(CARD_BATCH)

    async def save_overview(self, period: str, doc: Doc, rank_documents: list[Doc] | None = None) -> None:
        """Every save carries a new `version`: readers holding the quarter's rank rows reload them
        (this process keeps `rank_documents`, the rows the overview was built from)."""
        version = ranks.new_version()
        await self.db.overview.replace_one({"_id": period}, {**doc, "version": version}, upsert=True)
        if rank_documents is not None:
            self.ranks.put(period, version, rank_documents)

    async def overview_version(self, period: str) -> str | None:
        head = await self.db.overview.find_one({"_id": period}, {"version": 1})
        return (head or {}).get("version")

    async def overview(self, period: str) -> Doc | None:
        return await self.db.overview.find_one({"_id": period})

    async def overview_periods(self) -> list[str]:
        return [d["_id"] async for d in self.db.overview.find({}, {"_id": 1})]

    async def overviews(self, periods: Sequence[str], fields: Doc) -> dict[str, Doc]:
        return {d["_id"]: d async for d in self.db.overview.find({"_id": {"$in": list(periods)}}, fields)}

    # -- lagging --------------------------------------------------------------------------------
    async def lagging_states(self) -> dict[str, Doc]:
        return {d["_id"]: d async for d in self.db.lagging.find({}, {"outbox": 0})}

    async def save_lagging(self, org_id: str, fields: Doc, events: Sequence[tuple[EventPayload, CloudEvent]]) -> None:
        await self.save_lagging_many([(org_id, fields, events)])

    async def save_lagging_many(
        self, changes: Sequence[tuple[str, Doc, Sequence[tuple[EventPayload, CloudEvent]]]]
    ) -> None:
        """Branches' lagging documents (their fields set, their events pushed into their outbox), in
        one unordered bulk write."""
        if not changes:
            return
        await self.db.lagging.bulk_write(
            [UpdateOne({"_id": o}, outbox_push({"$set": f}, e), upsert=True) for o, f, e in changes], ordered=False
        )
        if any(e for _, _, e in changes):
            self._wake_relay()

    async def lagging_entry(self, org_id: str) -> Doc | None:
        return await self.db.lagging.find_one({"_id": org_id}, {"outbox": 0})

    async def lagging_list(self, institution_id: str | None, skip: int, limit: int) -> tuple[list[Doc], int]:
        return page_of_queue(await self.lagging_queue.items(), institution_id, None, skip, limit)

    async def deliveries_for(self, org_ids: Sequence[str]) -> dict[str, list[Doc]]:
        """Each organisation's reminders, newest first (ties by id)."""
        out: dict[str, list[Doc]] = {}
        if not org_ids:
            return out
        query = {"organization_id": {"$in": list(dict.fromkeys(org_ids))}}
        for d in sorted(await self.db.deliveries.find(query).to_list(None), key=lambda d: d["_id"]):
            out.setdefault(d["organization_id"], []).append(d)
        for items in out.values():
            items.sort(key=lambda d: d.get("at") or EPOCH, reverse=True)
        return out

    # -- the secretariat's follow-up records ---------------------------------------------------
    async def follow_ups(self, org_ids: Sequence[str]) -> dict[str, Doc]:
        if not org_ids:
            return {}
        return {d["_id"]: d async for d in self.db.follow_ups.find({"_id": {"$in": list(dict.fromkeys(org_ids))}})}

    async def first_follow_up(self, doc: Doc) -> bool:
        """Insert the first version of a follow-up record; False when one exists already."""
        try:
            await self.db.follow_ups.insert_one(doc)
        except Exception as exc:
            if is_duplicate_key(exc):
                return False
            raise
        return True

    async def next_follow_up(self, org_id: str, version: int, fields: Doc, entry: Doc) -> Doc:
        """The record at `version + 1`, `entry` (who, when, what changed) appended to its history in
        the same write; `VersionConflict` when it was not at `version`."""
        return await update_versioned(
            self.db.follow_ups, org_id, version, {"$set": fields, "$push": {"history": entry}}
        )

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

    async def score_decisions(
        self, collection: str, query: Doc, newest: str, skip: int, limit: int
    ) -> tuple[list[Doc], int]:
        """A page of adjustments, appeals or exemptions matching `query` (narrowed by an indexed
        equality: status, institution), newest `newest` first, and how many match."""
        total = int(await self.db[collection].count_documents(query))
        found = await self.db[collection].find(query).sort([(newest, -1), ("_id", -1)]).skip(skip).to_list(limit)
        return found, total

    async def audit(self, entry: Doc) -> None:
        """A record in the audit trail's one shape (`audit.record` builds it from the caller; a
        record in the older free shape is converted)."""
        await self.trail.write(legacy_document(entry))

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
