"""Submissions and their outcomes. An accepted event is stored under its id (the unique `_id` is
the dedupe key across every channel) together with its outbox entry, in one document write; the
ingestion path publishes it and then settles the document. A document left unsettled (a crash
between the write and the publish) is handed to the runtime's outbox relay after a grace period."""

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
from alliance_shared.mongo import IndexSpec, is_duplicate_key, outbox_fields
from alliance_shared.runtime import Runtime
from pymongo.errors import BulkWriteError, OperationFailure

from ..domain.model import Accepted, Arrival, History, PriorAccepted, Rejected

SUBMISSIONS = "submissions"
SOURCE = "/alliance/activity"

INDEXES = (
    IndexSpec(SUBMISSIONS, [("reporter_institution_id", 1), ("status", 1), ("received_at", -1)]),
    IndexSpec(SUBMISSIONS, [("reporter", 1), ("status", 1), ("received_at", -1)]),
    IndexSpec(SUBMISSIONS, [("member_id", 1), ("day", 1)]),
    IndexSpec(SUBMISSIONS, [("minutes_hash", 1)]),
    IndexSpec(SUBMISSIONS, [("photo_hashes", 1)]),
    IndexSpec(SUBMISSIONS, [("unsettled", 1), ("received_at", 1)]),
)


class SubmissionStore:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def _col(self) -> Any:
        return self._runtime.db[SUBMISSIONS]

    # -- what earlier accepted submissions say -------------------------------------------------
    async def history(
        self,
        event_ids: Iterable[str],
        learning_days: Iterable[tuple[str, str]],
        minutes_hashes: Iterable[str],
        photo_hashes: Iterable[str],
    ) -> History:
        history = History()
        ids = list(set(event_ids))
        if ids:
            async for d in self._col.find({"_id": {"$in": ids}, "status": "accepted"}):
                day = (d["member_id"], d["day"]) if d.get("day") and d.get("member_id") else None
                history.accepted[d["_id"]] = PriorAccepted(
                    d["institution_id"],
                    d["type"],
                    d.get("subject"),
                    learning_day=day,
                    minutes=int(d.get("minutes") or 0),
                )
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
                    history.learning_minutes[key] = history.learning_minutes.get(key, 0) + int(
                        d.get("minutes") or 0
                    )
        hashes = list(set(minutes_hashes))
        if hashes:
            async for d in self._col.find(
                {"status": "accepted", "minutes_hash": {"$in": hashes}}, {"minutes_hash": 1}
            ):
                history.minutes_hashes.setdefault(d["minutes_hash"], d["_id"])
        photos = set(photo_hashes)
        if photos:
            async for d in self._col.find(
                {"status": "accepted", "photo_hashes": {"$in": list(photos)}}, {"photo_hashes": 1}
            ):
                for h in d.get("photo_hashes") or ():
                    if h in photos:
                        history.photo_hashes.setdefault(h, d["_id"])
        return history

    # -- recording outcomes --------------------------------------------------------------------
    def documents(
        self, accepted: Sequence[Accepted], rejected: Sequence[Rejected], arrival: Arrival
    ) -> tuple[list[dict[str, Any]], list[Outgoing]]:
        """The documents to insert, each with its outbox entry, and the messages to publish."""
        docs: list[dict[str, Any]] = []
        outgoing: list[Outgoing] = []
        for item in accepted:
            docs.append(
                self._doc(
                    item.event.id,
                    "accepted",
                    arrival,
                    item.row,
                    item.event.type,
                    item.payload,
                    item.event,
                    item.key,
                )
                | item.facts
                | {
                    "superseded_by": None,
                    "supersedes": item.event.supersedes,
                    "event": item.event.to_structured(),
                }
            )
            outgoing.append(Outgoing(item.payload.kafka_topic, item.event, item.key))
        for item in rejected:
            payload, event = rejection_event(item, arrival)
            doc = self._doc(
                f"rejected:{uuid.uuid4()}",
                "rejected",
                arrival,
                item.row,
                item.type,
                payload,
                event,
                payload.ordering_key(),
            )
            doc |= {
                "event_id": item.event_id,
                "label": item.label,
                "institution_id": item.institution_id,
                "organization_id": item.organization_id,
                "reasons": [r.model_dump() for r in item.reasons],
            }
            docs.append(doc)
            outgoing.append(Outgoing(payload.kafka_topic, event, payload.ordering_key()))
        return docs, outgoing

    @staticmethod
    def _doc(
        doc_id: str,
        status: str,
        arrival: Arrival,
        row: int | None,
        event_type: str | None,
        payload: EventPayload,
        event: CloudEvent,
        key: str | None,
    ) -> dict[str, Any]:
        fields = outbox_fields([(payload, event)])
        fields["outbox"][0]["key"] = key
        # not yet pending for the relay: the request publishes it itself; see `arm_stranded`
        fields["outbox_pending"] = False
        reporter = arrival.reporter
        return {
            "_id": doc_id,
            "status": status,
            "event_id": event.id if status == "accepted" else None,
            "channel": arrival.channel.value,
            "reporter": reporter.subject,
            "reporter_key": reporter.key_id,
            "reporter_institution_id": reporter.institution_id,
            "received_at": arrival.received_at,
            "row": row,
            "type": event_type,
            "unsettled": True,
            **fields,
        }

    async def insert(self, docs: list[dict[str, Any]]) -> set[str]:
        """Insert all; returns the ids that already existed (lost a race with another channel)."""
        if not docs:
            return set()
        try:
            await self._col.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(not is_duplicate_key(_as_error(e)) for e in errors):
                raise
            return {docs[e["index"]]["_id"] for e in errors}
        return set()

    async def settle(self, doc_ids: list[str]) -> None:
        """The events of these documents are on Kafka: drop their outbox entries."""
        if doc_ids:
            await self._col.update_many(
                {"_id": {"$in": doc_ids}}, {"$set": {"outbox": [], "unsettled": False}}
            )

    async def mark_superseded(self, pairs: Sequence[tuple[str, str]]) -> None:
        for old, new in pairs:
            await self._col.update_one({"_id": old}, {"$set": {"superseded_by": new}})

    async def arm_stranded(self, older_than: datetime) -> int:
        """Hand submissions whose request never published them (a crash) to the outbox relay."""
        result = await self._col.update_many(
            {"unsettled": True, "received_at": {"$lt": older_than}},
            {"$set": {"outbox_pending": True, "unsettled": False}},
        )
        return int(result.modified_count)

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
        projection = {"outbox": 0, "photo_hashes": 0}
        docs = await self._col.find(query, projection).sort("received_at", -1).skip(skip).to_list(limit)
        return docs, await self._col.count_documents(query)


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


def _as_error(write_error: dict[str, Any]) -> Exception:
    return OperationFailure(write_error.get("errmsg", ""), code=write_error.get("code"))
