"""Submissions and their outcomes, in two collections:

* `submission_intents`: one document per submission (a batch is cut into chunks of at most
  `CHUNK` events) holding the canonical events and rejections to publish — the submission's
  single-document outbox, written first, in one insert per chunk. The request publishes them and
  deletes the chunk; a chunk left behind by a crash is moved after a grace period to
  `submission_outbox`, which the runtime's outbox relay publishes. (The relay polls its
  collections every second; keeping in-flight chunks out of its way spares the embedded store
  from re-reading megabytes each second.)
* `submissions`: one insert-only record per event — accepted ones under the event id, so the
  unique `_id` is the dedupe key across every channel — for the reporter's view.
* `submission_checks`: the plausibility history, as documents found by `_id` — a member's
  learning minutes per day, the first event that used a minutes or photo fingerprint.

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
CHECKS = "submission_checks"
SOURCE = "/alliance/activity"
CHUNK = 500

INDEXES = (
    IndexSpec(SUBMISSIONS, [("reporter_institution_id", 1), ("status", 1), ("received_at", -1)]),
    IndexSpec(SUBMISSIONS, [("reporter", 1), ("status", 1), ("received_at", -1)]),
    IndexSpec(INTENTS, [("received_at", 1)]),
)


class SubmissionStore:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def _col(self) -> Any:
        return self._runtime.db[SUBMISSIONS]

    @property
    def _checks(self) -> Any:
        return self._runtime.db[CHECKS]

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
        hashes = set(minutes_hashes)
        photos = set(photo_hashes)
        keys = [_learning_key(m, d) for m, d in wanted]
        keys += [_minutes_key(h) for h in hashes] + [_photo_key(h) for h in photos]
        found = await by_ids(self._checks, keys)
        for member, day in wanted:
            if (doc := found.get(_learning_key(member, day))) and doc.get("events"):
                history.learning_minutes[(member, day)] = sum(int(e.get("minutes") or 0) for e in doc["events"])
        for h in hashes:
            if doc := found.get(_minutes_key(h)):
                history.minutes_hashes[h] = doc["event_id"]
        for h in photos:
            if doc := found.get(_photo_key(h)):
                history.photo_hashes[h] = doc["event_id"]
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
        for refused in rejected:
            payload, event = rejection_event(refused, arrival)
            records.append(
                _record(f"rejected:{event.id}", "rejected", arrival, refused.row, refused.type)
                | {
                    "event_id": refused.event_id,
                    "label": refused.label,
                    "institution_id": refused.institution_id,
                    "organization_id": refused.organization_id,
                    "reasons": [r.model_dump() for r in refused.reasons],
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
        """Insert every record; returns the ids that already existed (the same event came before).
        The accepted ones newly stored are then remembered for later plausibility checks."""
        if not records:
            return set()
        collided: set[str] = set()
        try:
            await self._col.insert_many(records, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(not is_duplicate_key(_as_error(e)) for e in errors):
                raise
            collided = {records[e["index"]]["_id"] for e in errors}
        await self._remember([r for r in records if r["status"] == "accepted" and r["_id"] not in collided])
        return collided

    async def _remember(self, records: Sequence[dict[str, Any]]) -> None:
        """The check keys of newly accepted records, each a document found by `_id` later (a query
        on the records themselves reads every submission on the embedded store): a member's
        learning minutes per day, and the first event that used a minutes or photo fingerprint.
        A crash before this step only weakens the checks for those events."""
        days: dict[str, list[dict[str, Any]]] = {}
        firsts: dict[str, str] = {}
        for r in records:
            if r.get("member_id") and r.get("day") and r.get("minutes") is not None:
                key = _learning_key(r["member_id"], r["day"])
                days.setdefault(key, []).append({"id": r["_id"], "minutes": int(r["minutes"])})
            for key in [_minutes_key(r["minutes_hash"])] if r.get("minutes_hash") else []:
                firsts.setdefault(key, r["_id"])
            for key in (_photo_key(h) for h in r.get("photo_hashes") or ()):
                firsts.setdefault(key, r["_id"])
        for key, entries in days.items():  # one write per member and day, by `_id`
            await self._checks.update_one({"_id": key}, {"$push": {"events": {"$each": entries}}}, upsert=True)
        if firsts:  # the first use wins: a fingerprint already known stays with its first event
            try:
                await self._checks.insert_many(
                    [{"_id": k, "event_id": v} for k, v in firsts.items()], ordered=False
                )
            except BulkWriteError as exc:
                if any(not is_duplicate_key(_as_error(e)) for e in exc.details.get("writeErrors", [])):
                    raise

    async def settle(self, chunk_ids: list[str]) -> None:
        """The submission's events are on Kafka: its outbox goes."""
        for chunk_id in chunk_ids:  # by _id, one at a time: the embedded store scans for an $in
            await self._intents.delete_one({"_id": chunk_id})

    async def mark_superseded(self, pairs: Sequence[tuple[str, str]]) -> None:
        for old, new in pairs:
            await self._col.update_one({"_id": old}, {"$set": {"superseded_by": new}})
            prior = await self._col.find_one({"_id": old}, {"member_id": 1, "day": 1, "minutes": 1})
            if prior and prior.get("member_id") and prior.get("day") and prior.get("minutes") is not None:
                await self._checks.update_one(  # a corrected learning record no longer counts
                    {"_id": _learning_key(prior["member_id"], prior["day"])},
                    {"$pullAll": {"events": [{"id": old, "minutes": int(prior["minutes"])}]}},
                )

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


def _learning_key(member_id: str, day: str) -> str:
    return f"learning|{member_id}|{day}"


def _minutes_key(fingerprint: str) -> str:
    return f"minutes|{fingerprint}"


def _photo_key(fingerprint: str) -> str:
    return f"photo|{fingerprint}"
