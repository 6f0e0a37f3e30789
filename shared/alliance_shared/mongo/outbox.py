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
    """Publishes pending outbox entries of `collections`, in write order per document, on start-up,
    on every `notify()` and on a timer."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], publisher: EventPublisher,
                 collections: Sequence[str], *, interval_s: float = 1.0, batch: int = 200) -> None:
        self._db = db
        self._publisher = publisher
        self._collections = list(collections)
        self._interval = interval_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.published = 0

    def notify(self) -> None:
        """A write just added events: relay now rather than at the next tick."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.relay_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox relay pass failed; will retry", exc_info=True)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def relay_pending(self) -> int:
        """One pass over every collection; returns how many events were published."""
        total = 0
        for name in self._collections:
            col = self._db[name]
            docs = await col.find({"outbox_pending": True}, {"outbox": 1, "outbox_seq": 1}) \
                .sort("_id", 1).to_list(self._batch)
            OUTBOX_PENDING.labels(name).set(len(docs))
            for doc in docs:
                entries = doc.get("outbox") or []
                for entry in entries:
                    await self._publish(entry)
                    total += 1
                cleared = await col.update_one(
                    {"_id": doc["_id"], "outbox_seq": doc.get("outbox_seq")},
                    {"$set": {"outbox": [], "outbox_pending": False}})
                if cleared.matched_count == 0:
                    # written again meanwhile: the next pass republishes, consumers dedupe by id
                    self._wake.set()
        self.published += total
        return total

    async def _publish(self, entry: Mapping[str, Any]) -> None:
        token = otel_context.attach(propagate.extract(entry.get("trace") or {}))
        try:
            event = CloudEvent.from_structured(entry["event"])
            await self._publisher.publish_many([Outgoing(entry["topic"], event, entry.get("key"))])
        finally:
            otel_context.detach(token)
