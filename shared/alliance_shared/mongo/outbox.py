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

from opentelemetry import propagate
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from ..contracts.base import EventPayload
from ..contracts.envelope import CloudEvent
from ..kafka.producer import EventPublisher, Outgoing
from ..metrics import OUTBOX_PENDING
from ..telemetry import TRACE_HEADERS
from .client import IndexSpec

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


def outbox_indexes(collections: Sequence[str]) -> list[IndexSpec]:
    """The index the relay polls through, on each collection whose documents carry an outbox."""
    return [IndexSpec(c, [("outbox_pending", 1)]) for c in collections]


class OutboxRelay:
    """Publishes the pending outbox entries of `collections`, in write order per document.

    The shape of eShop's IntegrationEventLogService — save with the change, query pending, mark
    sent — with a relay that retries. A document with unsent entries carries the top-level marker
    `outbox_pending: true` (set by `outbox_fields` / `outbox_push` in the write that adds them); a
    poll reads up to `batch` such documents per collection through the marker's index, publishes
    their entries, waits for the broker's acknowledgement and clears them with one update per
    distinct `outbox_seq`:
    a document still at the `outbox_seq` it was read at is emptied and unmarked; one written
    meanwhile loses exactly the entries sent and stays marked for the next poll.

    A poll runs at start-up, when a writer calls `notify()`, at once again while a poll finds a
    full batch, and every `interval_s` otherwise (what another process wrote, or what a crash left
    unsent). A writer that names its collection (`notify("api_keys")`) has only that collection
    polled (with any whose last batch was full): a poll finds the pending documents through the
    marker's GIN index, whose entries of documents relayed since the last VACUUM it still visits
    one heap page at a time — after a 100,000-member import each poll of the members cost
    PostgreSQL ~5 ms, paid by every POST of another collection. The interval's poll, the start-up's
    and the one after a failure read every collection. A poll that fails is retried after
    `interval_s`: a crash or an outage between the store and the broker delays an event, never
    loses it; one between the publish and the clear publishes it again, and consumers dedupe by
    event id."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], publisher: EventPublisher,
                 collections: Sequence[str], *, interval_s: float = 5.0, batch: int = 200) -> None:
        self._db = db
        self._publisher = publisher
        self._collections = list(collections)
        self._interval = interval_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._asked: set[str] = set()  # collections named by writers since the last poll
        self._asked_all = True  # a writer named none (or one not relayed), or the interval elapsed
        self._full: set[str] = set()  # collections whose last poll found a full batch
        self.published = 0
        self.polls = 0

    def notify(self, collection: str | None = None) -> None:
        """A write just added events (to `collection`, None: any): poll now (the poll finds them
        through the marker's index)."""
        if collection in self._collections:
            self._asked.add(collection)
        else:
            self._asked_all = True
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            only = None if self._asked_all else self._asked | self._full
            self._asked, self._asked_all = set(), False
            try:
                await self.relay_pending(only)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox relay poll failed; will retry", exc_info=True)
                await self._rest(wakeable=False)  # a store or broker that is down is not hammered
                self._asked_all = True
                continue
            if not self._full and not await self._rest(wakeable=True):
                self._asked_all = True  # the interval elapsed: every collection

    async def _rest(self, *, wakeable: bool) -> bool:
        """Wait for a wake-up (or the stop) up to the interval; True if it came."""
        waiting = self._wake.wait() if wakeable else self._stopping.wait()
        try:
            await asyncio.wait_for(waiting, timeout=self._interval)
        except TimeoutError:
            return False
        return True

    async def relay_pending(self, only: set[str] | None = None) -> int:
        """One poll of every collection (of those in `only`, in the relay's order); returns how many
        events were published."""
        total = 0
        for name in self._collections:
            if only is not None and name not in only:
                continue
            marked = self._db[name].find({"outbox_pending": True}, {"outbox": 1, "outbox_seq": 1})
            docs = await marked.limit(self._batch).to_list(None)
            OUTBOX_PENDING.labels(name).set(len(docs))
            total += await self._relay_docs(name, docs)
            if len(docs) == self._batch:
                self._full.add(name)
            else:
                self._full.discard(name)
        self.polls += 1
        self.published += total
        return total

    async def _relay_docs(self, name: str, docs: Sequence[Mapping[str, Any]]) -> int:
        """Send every entry of `docs` (acknowledged together), then mark them sent in one bulk
        write: exactly the entries sent go, entries written meanwhile stay for the next poll."""
        if not docs:
            return 0
        pending = []
        for doc in docs:
            for entry in doc.get("outbox") or []:
                # the trace context stored with the event (the request that wrote it) goes on as is
                trace_headers = [(k, str(v).encode()) for k, v in (entry.get("trace") or {}).items()
                                 if k in TRACE_HEADERS]
                event = CloudEvent.from_structured(entry["event"])
                outgoing = Outgoing(entry["topic"], event, entry.get("key"))
                pending.append(await self._publisher.enqueue(outgoing, trace_headers=trace_headers))
        await self._publisher.acknowledged(pending)
        # Documents still at the `outbox_seq` they were read at are emptied with one update per
        # distinct seq (one statement for a poll of freshly inserted documents); a document written
        # meanwhile did not match and loses exactly the entries sent. Two statements per document
        # made a poll of 200 documents cost 400 updates: ~60 documents a second on the embedded store.
        by_seq: dict[Any, list[Mapping[str, Any]]] = {}
        for doc in docs:
            by_seq.setdefault(doc.get("outbox_seq"), []).append(doc)
        collection = self._db[name]
        for seq, group in by_seq.items():
            cleared = await collection.update_many(
                {"_id": {"$in": [d["_id"] for d in group]}, "outbox_seq": seq},
                {"$set": {"outbox": [], "outbox_pending": False}},
            )
            if cleared.matched_count < len(group):
                await collection.bulk_write(
                    [
                        UpdateOne({"_id": d["_id"], "outbox_seq": {"$ne": seq}},
                                  {"$pullAll": {"outbox": d.get("outbox") or []}})
                        for d in group
                    ],
                    ordered=True,
                )
        return len(pending)
