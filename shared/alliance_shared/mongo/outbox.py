"""The single-document outbox: a state change and the events announcing it are written in one
document operation (the events ride in the document's `outbox` array), and a relay publishes them
and clears them. A crash between the write and the publish delays an event, never loses it; a crash
between the publish and the clear publishes it again, and consumers dedupe by event id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from ..contracts.base import EventPayload
from ..contracts.envelope import CloudEvent
from ..kafka.producer import EventPublisher, Outgoing
from ..metrics import OUTBOX_PENDING
from .keyed import by_ids

log = logging.getLogger(__name__)


def _entries(events: Sequence[tuple[EventPayload, CloudEvent]]) -> list[dict[str, Any]]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # so the trace continues from the request that caused the change
    return [{"id": event.id, "topic": payload.kafka_topic, "key": payload.ordering_key(),
             "event": event.to_structured(), "trace": carrier, "at": datetime.now(UTC)}
            for payload, event in events]


def outbox_fields(events: Sequence[tuple[EventPayload, CloudEvent]]) -> dict[str, Any]:
    """Fields to add to a document being inserted so that its events are relayed."""
    return {"outbox": _entries(events), "outbox_pending": bool(events), "outbox_seq": 1}


def outbox_push(update: Mapping[str, Any], events: Sequence[tuple[EventPayload, CloudEvent]]) -> dict[str, Any]:
    """`update` (a MongoDB update document) extended to append `events` to the outbox."""
    merged: dict[str, Any] = {k: dict(v) for k, v in update.items()}
    if not events:
        return merged
    merged.setdefault("$push", {})["outbox"] = {"$each": _entries(events)}
    merged.setdefault("$set", {})["outbox_pending"] = True
    merged.setdefault("$inc", {})["outbox_seq"] = 1
    return merged


class OutboxRelay:
    """Publishes pending outbox entries of `collections`, in write order per document.

    Writers that know which document they wrote call `notify(collection, doc_id)`: the relay then
    reads just those documents by `_id`. A full scan for `outbox_pending` runs at start-up, on a
    bare `notify()`, and every `interval_s` as the safety net that finds what a crashed process
    wrote but never announced (on the embedded store such a scan reads the whole collection, so
    it must not run per write).

    Every store command the relay issues per document filters on `_id` alone: the embedded store
    reads the whole collection for any other filter, even `_id` plus one more field, and a relay
    that paid a collection scan per relayed document fell minutes behind a bulk load. So a relayed
    document is cleared by `_id` — its sent entries removed by value (`$pullAll`), the flag reset —
    and when the document it returns still holds entries (written meanwhile), the flag is set again
    and the document relayed once more. Should the relay die between those two commands, an entry
    would sit unflagged: the first full pass after start-up therefore also picks up any document
    whose outbox is not empty, flagged or not.

    The safety net is paced by its own cost: after a full pass that took `d` seconds, the next one
    waits at least `pace * d` (and `interval_s`). On the embedded store every command runs one at a
    time and a pass over 20,000 members took 9 s under load, so a pass every 10 s left the other
    writers a few percent of the store; paced, it takes at most 1/`pace` of it. A pass that finds a
    full batch waiting goes on at once (that is relaying, not looking)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], publisher: EventPublisher,
                 collections: Sequence[str], *, interval_s: float = 10.0, batch: int = 200,
                 pace: float = 20.0) -> None:
        self._db = db
        self._publisher = publisher
        self._collections = list(collections)
        self._interval = interval_s
        self._batch = batch
        self._pace = pace
        self._next_full_at = 0.0  # time.monotonic() before which a full pass waits
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._hints: dict[str, set[Any]] = {}
        self._full_scan_due = True
        self._recovered: set[str] = set()  # collections whose start-up pass has read every outbox
        self.published = 0

    def notify(self, collection: str | None = None, doc_id: Any = None) -> None:
        """A write just added events: relay them now. With the document named, only it is read."""
        if collection is not None and doc_id is not None:
            self._hints.setdefault(collection, set()).add(doc_id)
        else:
            self._full_scan_due = True
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._full_scan_due and time.monotonic() >= self._next_full_at:
                    self._full_scan_due = False
                    started = time.monotonic()
                    await self.relay_pending()
                    if not self._full_scan_due:  # nothing more waiting: rest in proportion to the cost
                        self._next_full_at = time.monotonic() + (time.monotonic() - started) * self._pace
                elif self._hints:
                    await self.relay_hinted()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox relay pass failed; will retry", exc_info=True)
                self._full_scan_due = True
                self._next_full_at = time.monotonic() + self._interval  # a store that is down is not hammered
            if self._hints or (self._full_scan_due and time.monotonic() >= self._next_full_at):
                continue
            wait = self._next_full_at - time.monotonic() if self._full_scan_due else self._interval
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.0))
            except TimeoutError:
                self._full_scan_due = True
            self._wake.clear()

    async def relay_pending(self) -> int:
        """One full pass over every collection; returns how many events were published."""
        total = 0
        for name in self._collections:
            query: dict[str, Any] = {"outbox_pending": True}
            if name not in self._recovered:  # after a start: an entry that lost its flag in a crash too
                query = {"$or": [query, {"outbox.0": {"$exists": True}}]}
            docs = await self._db[name].find(query, {"outbox": 1}).sort("_id", 1).to_list(self._batch)
            OUTBOX_PENDING.labels(name).set(len(docs))
            total += await self._relay_docs(name, docs)
            if len(docs) == self._batch:
                self._full_scan_due = True  # more are waiting
            else:
                self._recovered.add(name)
        self.published += total
        return total

    async def relay_hinted(self) -> int:
        """Publish the documents named by `notify(collection, doc_id)` since the last pass."""
        total = 0
        hints, self._hints = self._hints, {}
        for name in self._collections:
            ids = sorted(hints.pop(name, ()), key=str)
            for start in range(0, len(ids), self._batch):  # read concurrently, relayed in `_id` order
                found = await by_ids(self._db[name], ids[start : start + self._batch], {"outbox": 1})
                docs = [found[i] for i in ids[start : start + self._batch] if found.get(i, {}).get("outbox")]
                total += await self._relay_docs(name, docs)
        if hints:  # a collection this relay does not know: fall back to a full pass
            self._full_scan_due = True
        self.published += total
        return total

    async def _relay_docs(self, name: str, docs: Sequence[Mapping[str, Any]]) -> int:
        """Send every entry of `docs` (acknowledged together), then clear each document by `_id`:
        exactly the entries sent are removed, entries written meanwhile stay and are relayed next."""
        pending = []
        for doc in docs:
            for entry in doc.get("outbox") or []:
                token = otel_context.attach(propagate.extract(entry.get("trace") or {}))
                try:
                    event = CloudEvent.from_structured(entry["event"])
                    pending.append(await self._publisher.enqueue(Outgoing(entry["topic"], event, entry.get("key"))))
                finally:
                    otel_context.detach(token)
        await self._publisher.acknowledged(pending)

        async def clear(doc: Mapping[str, Any]) -> None:
            after = await self._db[name].find_one_and_update(
                {"_id": doc["_id"]},
                {"$pullAll": {"outbox": doc.get("outbox") or []}, "$set": {"outbox_pending": False}},
                return_document=ReturnDocument.AFTER)
            if after is not None and after.get("outbox"):
                # written again meanwhile: flag it again and relay the new entries next
                await self._db[name].update_one({"_id": doc["_id"]}, {"$set": {"outbox_pending": True}})
                self._hints.setdefault(name, set()).add(doc["_id"])

        await asyncio.gather(*(clear(doc) for doc in docs))  # each by `_id`: concurrent round trips
        return len(pending)
