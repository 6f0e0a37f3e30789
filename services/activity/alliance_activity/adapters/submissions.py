"""Submissions and their outcomes, in two collections:

* `submission_intents`: one document per submission (a batch is cut into chunks of at most
  `CHUNK` events) holding the canonical events and rejections to publish — the submission's
  single-document outbox, written first, in one insert per chunk. The request publishes them and
  deletes the chunk; a chunk left behind by a crash is moved after a grace period to
  `submission_outbox`, which the runtime's outbox relay publishes. (The relay polls its
  collections every second; keeping in-flight chunks out of its way spares the embedded store
  from re-reading megabytes each second.)
* `submissions`: one insert-only record per event — accepted ones under the event id, so the
  unique `_id` is the dedupe key across every channel — for the reporter's view and the
  plausibility history.

Nothing is ever updated per event in bulk: the embedded store takes minutes for that."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from alliance_shared.contracts.activity import SubmissionRejected
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.kafka.producer import Outgoing
from alliance_shared.mongo import IndexSpec, by_ids, is_duplicate_key, outbox_fields
from alliance_shared.runtime import Runtime
from pymongo.errors import BulkWriteError, OperationFailure

from ..domain.model import Accepted, Arrival, History, PriorAccepted, Rejected

SUBMISSIONS = "submissions"
OUTBOX = "submission_outbox"
INTENTS = "submission_intents"
SOURCE = "/alliance/activity"
CHUNK = 500

INDEXES = (
    IndexSpec(SUBMISSIONS, [("reporter_institution_id", 1), ("status", 1), ("received_at", -1)]),
    IndexSpec(SUBMISSIONS, [("reporter", 1), ("status", 1), ("received_at", -1)]),
    IndexSpec(SUBMISSIONS, [("member_id", 1), ("day", 1)]),
    IndexSpec(SUBMISSIONS, [("minutes_hash", 1)]),
    IndexSpec(SUBMISSIONS, [("photo_hashes", 1)]),
    IndexSpec(INTENTS, [("received_at", 1)]),
)


class SubmissionStore:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def _col(self) -> Any:
        return self._runtime.db[SUBMISSIONS]

    @property
    def _intents(self) -> Any:
        return self._runtime.db[INTENTS]

    # -- what earlier accepted submissions say -------------------------------------------------
    async def history(
        self,
        event_ids: Iterable[str],
        learning_days: Iterable[tuple[str, str]],
        minutes_hashes: Iterable[str],
        photo_hashes: Iterable[str],
    ) -> History:
        history = History()
        history.accepted.update(await self.owners(event_ids))
        wanted = set(learning_days)
        if wanted:
            query = {
                "status": "accepted",
                "superseded_by": None,
                "member_id": {"$in": sorted({m for m, _ in wanted})},
                "day": {"$in": sorted({d for _, d in wanted})},
            }
            async for d in self._col.find(query, {"member_id": 1, "day": 1, "minutes": 1}):
                key = (d["member_id"], d["day"])
                if key in wanted:
                    history.learning_minutes[key] = history.learning_minutes.get(key, 0) + int(d.get("minutes") or 0)
        hashes = list(set(minutes_hashes))
        if hashes:
            query = {"status": "accepted", "minutes_hash": {"$in": hashes}}
            async for d in self._col.find(query, {"minutes_hash": 1}):
                history.minutes_hashes.setdefault(d["minutes_hash"], d["_id"])
        photos = set(photo_hashes)
        if photos:
            query = {"status": "accepted", "photo_hashes": {"$in": list(photos)}}
            async for d in self._col.find(query, {"photo_hashes": 1}):
                for h in d.get("photo_hashes") or ():
                    if h in photos:
                        history.photo_hashes.setdefault(h, d["_id"])
        return history

    async def owners(self, event_ids: Iterable[str]) -> dict[str, PriorAccepted]:
        """The accepted events among `event_ids`: who reported them, their type and subject."""
        ids = list(set(event_ids))
        found: dict[str, PriorAccepted] = {}
        if ids:  # by `_id`, each: the embedded store reads the whole collection for an `$in`
            for d in (await by_ids(self._col, ids)).values():
                if d.get("status") != "accepted":
                    continue
                day = (d["member_id"], d["day"]) if d.get("day") and d.get("member_id") else None
                found[d["_id"]] = PriorAccepted(
                    d["institution_id"],
                    d["type"],
                    d.get("subject"),
                    learning_day=day,
                    minutes=int(d.get("minutes") or 0),
                )
        return found

    # -- recording outcomes --------------------------------------------------------------------
    def records(
        self, accepted: Sequence[Accepted], rejected: Sequence[Rejected], arrival: Arrival
    ) -> tuple[list[dict[str, Any]], list[tuple[EventPayload, CloudEvent, str | None]]]:
        """The per-event records to insert, and what to publish (payload, event, key)."""
        records: list[dict[str, Any]] = []
        messages: list[tuple[EventPayload, CloudEvent, str | None]] = []
        for item in accepted:
            records.append(
                _record(item.event.id, "accepted", arrival, item.row, item.event.type)
                | item.facts
                | {
                    "event_id": item.event.id,
                    "superseded_by": None,
                    "supersedes": item.event.supersedes,
                    "event": item.event.to_structured(),
                }
            )
            messages.append((item.payload, item.event, item.key))
        for item in rejected:
            payload, event = rejection_event(item, arrival)
            records.append(
                _record(f"rejected:{event.id}", "rejected", arrival, item.row, item.type)
                | {
                    "event_id": item.event_id,
                    "label": item.label,
                    "institution_id": item.institution_id,
                    "organization_id": item.organization_id,
                    "reasons": [r.model_dump() for r in item.reasons],
                }
            )
            messages.append((payload, event, payload.ordering_key()))
        return records, messages

    async def write_outbox(
        self, messages: Sequence[tuple[EventPayload, CloudEvent, str | None]], arrival: Arrival
    ) -> list[str]:
        """The submission's outbox, before anything else is written; returns the chunk ids."""
        chunks = []
        for start in range(0, len(messages), CHUNK):
            part = messages[start : start + CHUNK]
            fields = outbox_fields([(p, e) for p, e, _ in part])
            for entry, (_, _, key) in zip(fields["outbox"], part, strict=True):
                entry["key"] = key
            # not pending for the relay yet: the request publishes it itself (see `arm_stranded`)
            chunks.append(
                {
                    "_id": str(uuid.uuid4()),
                    **fields,
                    "outbox_pending": False,
                    "received_at": arrival.received_at,
                    "channel": arrival.channel.value,
                }
            )
        if chunks:
            await self._intents.insert_many(chunks)
        return [c["_id"] for c in chunks]

    async def insert(self, records: list[dict[str, Any]]) -> set[str]:
        """Insert every record; returns the ids that already existed (the same event came before)."""
        if not records:
            return set()
        try:
            await self._col.insert_many(records, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(not is_duplicate_key(_as_error(e)) for e in errors):
                raise
            return {records[e["index"]]["_id"] for e in errors}
        return set()

    async def settle(self, chunk_ids: list[str]) -> None:
        """The submission's events are on Kafka: its outbox goes."""
        for chunk_id in chunk_ids:  # by _id, one at a time: the embedded store scans for an $in
            await self._intents.delete_one({"_id": chunk_id})

    async def mark_superseded(self, pairs: Sequence[tuple[str, str]]) -> None:
        for old, new in pairs:
            await self._col.update_one({"_id": old}, {"$set": {"superseded_by": new}})

    async def arm_stranded(self, older_than: datetime) -> int:
        """Hand outboxes that their request never published (a crash) to the outbox relay, and
        drop the ones the relay has emptied."""
        moved = 0
        async for chunk in self._intents.find({"received_at": {"$lt": older_than}}):
            try:
                await self._runtime.db[OUTBOX].insert_one(chunk | {"outbox_pending": True})
            except Exception as exc:
                if not is_duplicate_key(exc):
                    raise
            await self._intents.delete_one({"_id": chunk["_id"]})
            moved += 1
        if moved:
            self._runtime.notify_outbox()
        await self._runtime.db[OUTBOX].delete_many({"outbox_pending": False})
        return moved

    # -- what reporters read -------------------------------------------------------------------
    async def list(
        self, *, status: str | None, institution_id: str | None, reporter: str | None, limit: int, skip: int
    ) -> tuple[list[dict[str, Any]], int]:
        query: dict[str, Any] = {}
        if status:
            query["status"] = status
        if institution_id:
            query["reporter_institution_id"] = institution_id
        if reporter:
            query["reporter"] = reporter
        docs = (
            await self._col.find(query, {"event": 0, "photo_hashes": 0})
            .sort("received_at", -1)
            .skip(skip)
            .to_list(limit)
        )
        return docs, await self._col.count_documents(query)


def _record(doc_id: str, status: str, arrival: Arrival, row: int | None, event_type: str | None) -> dict[str, Any]:
    reporter = arrival.reporter
    return {
        "_id": doc_id,
        "status": status,
        "channel": arrival.channel.value,
        "reporter": reporter.subject,
        "reporter_key": reporter.key_id,
        "reporter_institution_id": reporter.institution_id,
        "received_at": arrival.received_at,
        "row": row,
        "type": event_type,
    }


def rejection_event(item: Rejected, arrival: Arrival) -> tuple[SubmissionRejected, CloudEvent]:
    payload = SubmissionRejected(
        submission_id=item.event_id or item.label,
        institution_id=item.institution_id or arrival.reporter.institution_id,
        organization_id=item.organization_id,
        channel=arrival.channel,
        event_type_submitted=item.type,
        reasons=list(item.reasons),
        received_at=arrival.received_at,
        reporter=arrival.reporter.key_id or arrival.reporter.subject,
    )
    return payload, envelope(
        payload,
        source=SOURCE,
        time=arrival.received_at,
        institutionid=payload.institution_id,
        channel=arrival.channel.value,
        receivedat=arrival.received_at,
    )


def outgoing(messages: Iterable[tuple[EventPayload, CloudEvent, str | None]]) -> list[Outgoing]:
    return [Outgoing(p.kafka_topic, e, k) for p, e, k in messages]


def _as_error(write_error: dict[str, Any]) -> Exception:
    return OperationFailure(write_error.get("errmsg", ""), code=write_error.get("code"))
