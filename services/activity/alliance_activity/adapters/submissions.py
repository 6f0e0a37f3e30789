"""Submissions and their outcomes.

* `submissions`: one insert-only record per submitted event, holding the canonical event (or the
  rejection) to publish — so the outcome and the event announcing it are one document write.
  Accepted records live under the event id: the unique `_id` is the dedupe key across every
  channel, and one unordered `insert_many` per batch finds the repeats. The records are also the
  plausibility history, read through their indexes (`member_id`+`day`, `minutes_hash`,
  `photo_hashes`, `meeting_key`) with one `$in` per question and batch.
* `submission_batches`: one marker per batch, written before its records and marked published
  once Kafka acknowledged them all — a batch is settled by one update, not one per event. A
  marker left unpublished by a crash hands its records to the runtime's outbox relay (their
  events are pushed into each record's single-document outbox) after `OUTBOX_GRACE_S`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alliance_shared.contracts.activity import MeetingHeld, SubmissionRejected
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope, parse_payload
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.ids import uuid4
from alliance_shared.kafka.producer import Outgoing
from alliance_shared.mongo import IndexSpec, is_duplicate_key, outbox_push
from alliance_shared.paging import After, after, newest_first, total
from alliance_shared.runtime import Runtime
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, OperationFailure

from ..domain.model import Accepted, Arrival, History, PriorAccepted, Rejected
from ..domain.review import REVIEWABLE

SUBMISSIONS = "submissions"
BATCHES = "submission_batches"
SOURCE = "/alliance/activity"
# what a list answers leaves out: the published event, fingerprints and outbox
LISTED = {"event": 0, "photo_hashes": 0, "outbox": 0}
READ_BATCH = 10_000  # documents per round trip of a history read (the default first batch is 101)

INDEXES = (
    IndexSpec(SUBMISSIONS, [("reporter_institution_id", 1), ("status", 1), ("received_at", -1)]),
    IndexSpec(SUBMISSIONS, [("reporter", 1), ("status", 1), ("received_at", -1)]),
    # the secretariat's lists across institutions, newest first (keyset: received_at, then _id)
    IndexSpec(SUBMISSIONS, [("status", 1), ("received_at", -1), ("_id", -1)]),
    IndexSpec(SUBMISSIONS, [("received_at", -1), ("_id", -1)]),
    IndexSpec(SUBMISSIONS, [("member_id", 1), ("day", 1)]),
    IndexSpec(SUBMISSIONS, [("minutes_hash", 1)]),
    IndexSpec(SUBMISSIONS, [("photo_hashes", 1)]),
    IndexSpec(SUBMISSIONS, [("meeting_key", 1)]),
    IndexSpec(SUBMISSIONS, [("batch_id", 1)]),
    IndexSpec(BATCHES, [("published", 1), ("received_at", 1)]),
)

Message = tuple[EventPayload, CloudEvent, str | None]  # what to publish: payload, event, Kafka key


@dataclass
class Batch:
    """One ingestion pass's records and what to publish, in the batch's order."""

    id: str
    records: list[dict[str, Any]]
    messages: list[Message]


class SubmissionStore:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        # batches this process is still publishing: never stranded, however long they take (a
        # 5,000-event batch took over 30 s on a loaded machine and was handed over mid-flight)
        self._in_flight: set[str] = set()

    @property
    def _col(self) -> Any:
        return self._runtime.db[SUBMISSIONS]

    @property
    def _batches(self) -> Any:
        return self._runtime.db[BATCHES]

    # -- what earlier accepted submissions say -------------------------------------------------
    async def history(
        self,
        event_ids: Iterable[str],
        learning_days: Iterable[tuple[str, str]],
        minutes_hashes: Iterable[str],
        photo_hashes: Iterable[str],
        meeting_keys: Iterable[str] = (),
    ) -> History:
        """One `$in` per question asked: known ids, learning minutes per member and day (a
        superseded record no longer counts), events that used a minutes or photo fingerprint, and
        meetings of the same branch, time and attendees (a superseded one no longer counts)."""
        history = History()
        history.accepted.update(await self.owners(event_ids))
        wanted = set(learning_days)
        if wanted:
            query = {
                "member_id": {"$in": sorted({m for m, _ in wanted})},
                "day": {"$in": sorted({d for _, d in wanted})},
                "status": "accepted",
                "superseded_by": None,
            }
            async for d in self._col.find(query, {"member_id": 1, "day": 1, "minutes": 1}, batch_size=READ_BATCH):
                key = (d["member_id"], d["day"])
                if key in wanted:
                    history.learning_minutes[key] = history.learning_minutes.get(key, 0) + int(d.get("minutes") or 0)
        for name, hashes, found, current in (
            ("minutes_hash", set(minutes_hashes), history.minutes_hashes, {}),
            ("photo_hashes", set(photo_hashes), history.photo_hashes, {}),
            ("meeting_key", set(meeting_keys), history.meeting_keys, {"superseded_by": None}),
        ):
            if not hashes:
                continue
            query = {name: {"$in": sorted(hashes)}, "status": "accepted", **current}
            async for d in self._col.find(query, {name: 1}, batch_size=READ_BATCH):
                used = d.get(name)
                for h in used if isinstance(used, list) else [used]:
                    if h in hashes:
                        found.setdefault(h, set()).add(d["_id"])
        return history

    async def owners(self, event_ids: Iterable[str]) -> dict[str, PriorAccepted]:
        """The accepted events among `event_ids`: who reported them, their type and subject."""
        ids = sorted(set(event_ids))
        found: dict[str, PriorAccepted] = {}
        if not ids:
            return found
        fields = {"institution_id": 1, "type": 1, "subject": 1, "member_id": 1, "day": 1, "minutes": 1}
        async for d in self._col.find({"_id": {"$in": ids}, "status": "accepted"}, fields, batch_size=len(ids) + 1):
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
    @staticmethod
    def batch() -> Batch:
        return Batch(str(uuid4()), [], [])

    def add(self, batch: Batch, accepted: Sequence[Accepted], rejected: Sequence[Rejected], arrival: Arrival) -> None:
        """Add the per-event records of one reporter's submission (each holding the event it
        publishes) and what to publish: accepted events first, each in the order submitted."""
        for item in accepted:
            message = (item.payload, item.event, item.key)
            batch.records.append(
                _record(item.event.id, "accepted", arrival, item.row, item.event.type, batch, message)
                | item.facts
                | {"event_id": item.event.id, "superseded_by": None, "supersedes": item.event.supersedes}
                | {"flags": item.flags}
                | ({"review_state": "pending"} if item.event.type in REVIEWABLE else {})  # the review queue
            )
            batch.messages.append(message)
        self.add_rejections(batch, rejected, arrival)

    def add_rejections(self, batch: Batch, rejected: Sequence[Rejected], arrival: Arrival) -> list[dict[str, Any]]:
        """Add rejections to `batch`; returns their records."""
        start = len(batch.records)
        for refused in rejected:
            payload, event = rejection_event(refused, arrival)
            message = (payload, event, payload.ordering_key())
            batch.records.append(
                _record(f"rejected:{event.id}", "rejected", arrival, refused.row, refused.type, batch, message)
                | {
                    "event_id": refused.event_id,
                    "label": refused.label,
                    "institution_id": refused.institution_id,
                    "organization_id": refused.organization_id,
                    "reasons": [r.model_dump() for r in refused.reasons],
                }
            )
            batch.messages.append(message)
        return batch.records[start:]

    async def open(self, batch: Batch, received_at: datetime) -> None:
        """The batch's marker, before its records: until it is published, a crash leaves a trace."""
        marker = {"_id": batch.id, "published": False, "received_at": received_at, "events": len(batch.records)}
        self._in_flight.add(batch.id)
        await self._batches.insert_one(marker)

    def closed(self, batch: Batch) -> None:
        """The request is done with the batch, published or not: if not, it is stranded."""
        self._in_flight.discard(batch.id)

    async def insert(self, records: list[dict[str, Any]]) -> set[str]:
        """Insert every record in one unordered `insert_many`; returns the ids that already
        existed (the same event came before)."""
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

    async def published(self, batch: Batch) -> None:
        """Kafka has every event of the batch: it is settled."""
        await self._batches.update_one({"_id": batch.id}, {"$set": {"published": True}})

    async def mark_superseded(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Corrected records point at their correction (and stop counting as learning minutes)."""
        if pairs:
            await self._col.bulk_write(
                [UpdateOne({"_id": old}, {"$set": {"superseded_by": new}}) for old, new in pairs], ordered=False
            )

    async def arm_stranded(self, older_than: datetime) -> int:
        """Hand the records of batches that their request never published (a crash) to the outbox
        relay: each record's event goes into its own outbox. Returns the events handed over."""
        armed = 0
        query = {"published": False, "received_at": {"$lt": older_than}}
        async for marker in self._batches.find(query, {"_id": 1}):
            if marker["_id"] in self._in_flight:
                continue
            records = await self._col.find({"batch_id": marker["_id"]}, {"event": 1, "key": 1, "seq": 1}).to_list(None)
            updates = []
            for record in sorted(records, key=lambda r: r.get("seq", 0)):
                event = CloudEvent.from_structured(record["event"])
                update = outbox_push({}, [(parse_payload(event), event)])
                for entry in update["$push"]["outbox"]["$each"]:
                    entry["key"] = record.get("key")
                updates.append(UpdateOne({"_id": record["_id"]}, update))
            if updates:
                await self._col.bulk_write(updates, ordered=True)
            await self._batches.update_one({"_id": marker["_id"]}, {"$set": {"published": True, "relayed": True}})
            armed += len(updates)
        if armed:
            self._runtime.notify_outbox()  # a wake-up: the relay polls the records' marker
        return armed

    # -- what reporters read -------------------------------------------------------------------
    async def list(
        self,
        *,
        status: str | None,
        institution_id: str | None,
        reporter: str | None,
        limit: int,
        skip: int = 0,
        position: After | None = None,
        with_total: bool = True,
    ) -> tuple[list[dict[str, Any]], int | None, bool]:
        """(one page newest first, read with one more than `limit` to tell whether another
        follows; the total when asked, whether it is an estimate). Continuing after `position`
        is a keyset page: the index `(…, received_at, _id)` serves it however deep a client pages."""
        query: dict[str, Any] = {}
        if status:
            query["status"] = status
        if institution_id:
            query["reporter_institution_id"] = institution_id
        if reporter:
            query["reporter"] = reporter
        found = self._col.find(after(query, "received_at", position), LISTED).sort(newest_first("received_at"))
        docs = await found.skip(skip).limit(limit + 1).to_list(limit + 1)
        count, estimated = await total(self._col, query) if with_total else (None, False)
        return docs, count, estimated

    async def meetings_of(self, organization_id: str, institution_ids: Sequence[str]) -> Sequence[dict[str, Any]]:
        """A branch's accepted, uncorrected meetings (the form's 本季度已报), by whichever channel they
        came; narrowed by the indexed reporting institutions (a joint branch's are several)."""
        query = {
            "reporter_institution_id": {"$in": sorted(set(institution_ids))},
            "status": "accepted",
            "organization_id": organization_id,
            "type": MeetingHeld.event_type,
            "superseded_by": None,
        }
        fields = {"event.data": 1, "channel": 1, "received_at": 1, "flags": 1, "review_state": 1, "review_history": 1}
        docs: list[dict[str, Any]] = await self._col.find(query, fields).to_list(None)
        return docs


def _record(
    doc_id: str,
    status: str,
    arrival: Arrival,
    row: int | None,
    event_type: str | None,
    batch: Batch,
    message: Message,
) -> dict[str, Any]:
    payload, event, key = message
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
        "batch_id": batch.id,
        "seq": len(batch.records),
        "topic": payload.kafka_topic,
        "key": key,
        "event": event.to_structured(),
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


def outgoing(messages: Iterable[Message]) -> list[Outgoing]:
    return [Outgoing(p.kafka_topic, e, k) for p, e, k in messages]


def _as_error(write_error: dict[str, Any]) -> Exception:
    return OperationFailure(write_error.get("errmsg", ""), code=write_error.get("code"))
