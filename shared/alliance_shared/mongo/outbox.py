"""The single-document outbox: a state change and the events announcing it are written in one
document operation (the events ride in the document's `outbox` array), and a relay publishes them
and clears them. A crash between the write and the publish delays an event, never loses it; a crash
between the publish and the clear publishes it again, and consumers dedupe by event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from pymongo.asynchronous.database import AsyncDatabase

from ..contracts.base import EventPayload
from ..contracts.envelope import CloudEvent
from ..kafka.producer import EventPublisher, Outgoing
from ..metrics import OUTBOX_PENDING

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
    document's sent entries are removed by value (`$pullAll`: entries written meanwhile stay), and
    `outbox_pending` — which may stay true a while after the outbox emptied, never the other way
    round — is reset for all emptied documents of a collection at once by the next full pass."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], publisher: EventPublisher,
                 collections: Sequence[str], *, interval_s: float = 10.0, batch: int = 200) -> None:
        self._db = db
        self._publisher = publisher
        self._collections = list(collections)
        self._interval = interval_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._hints: dict[str, set[Any]] = {}
        self._full_scan_due = True
        self._emptied: set[str] = set()  # collections with documents emptied since their last sweep
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
                if self._full_scan_due:
                    self._full_scan_due = False
                    await self.relay_pending()
                else:
                    await self.relay_hinted()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox relay pass failed; will retry", exc_info=True)
                self._full_scan_due = True
            if self._hints or self._full_scan_due:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            except TimeoutError:
                self._full_scan_due = True
            self._wake.clear()

    async def relay_pending(self) -> int:
        """One full pass over every collection; returns how many events were published."""
        total = 0
        for name in self._collections:
            col = self._db[name]
            docs = await col.find({"outbox_pending": True}, {"outbox": 1}).sort("_id", 1).to_list(self._batch)
            loaded = [d for d in docs if d.get("outbox")]
            OUTBOX_PENDING.labels(name).set(len(loaded))
            total += await self._relay_docs(name, loaded)
            if len(loaded) < len(docs) or name in self._emptied:
                await self.sweep(name)
            if len(docs) == self._batch:
                self._full_scan_due = True  # more are waiting
        self.published += total
        return total

    async def sweep(self, name: str) -> int:
        """Reset `outbox_pending` on the documents of `name` whose outbox is empty: one command for
        them all (a single collection scan on the embedded store), atomic per document, so a
        document written again meanwhile keeps its flag."""
        self._emptied.discard(name)
        swept = await self._db[name].update_many({"outbox_pending": True, "outbox": {"$size": 0}},
                                                 {"$set": {"outbox_pending": False}})
        return int(swept.modified_count)

    async def relay_hinted(self) -> int:
        """Publish the documents named by `notify(collection, doc_id)` since the last pass."""
        total = 0
        hints, self._hints = self._hints, {}
        for name in self._collections:
            docs = []
            for doc_id in sorted(hints.pop(name, ()), key=str):
                doc = await self._db[name].find_one({"_id": doc_id}, {"outbox": 1})
                if doc is not None and doc.get("outbox"):
                    docs.append(doc)
            total += await self._relay_docs(name, docs)
        if hints:  # a collection this relay does not know: fall back to a full pass
            self._full_scan_due = True
        self.published += total
        return total

    async def _relay_docs(self, name: str, docs: Sequence[Mapping[str, Any]]) -> int:
        """Send every entry of `docs` (acknowledged together), then remove exactly those entries
        from each document, by `_id`; entries written meanwhile stay for the next pass."""
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
        for doc in docs:
            if doc.get("outbox"):
                await self._db[name].update_one({"_id": doc["_id"]}, {"$pullAll": {"outbox": doc["outbox"]}})
                self._emptied.add(name)
        return len(pending)
