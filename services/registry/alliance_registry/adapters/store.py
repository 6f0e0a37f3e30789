"""The registry's MongoDB collections: every write that changes state carries its events in the
same document operation (single-document outbox), relayed to `registry.events.v1`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.mongo import IndexSpec, is_duplicate_key, outbox_fields, outbox_push
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

SOURCE = "/registry"

INSTITUTIONS = "institutions"
ORGANIZATIONS = "organizations"
MEMBERS = "members"
API_KEYS = "api_keys"
AUDIT = "audit"

# relayed in this order within a pass, so an institution's registration precedes its branches'
OUTBOX_COLLECTIONS = (INSTITUTIONS, ORGANIZATIONS, MEMBERS, API_KEYS)

INDEXES = (
    IndexSpec(INSTITUTIONS, [("uscc", 1)], unique=True),
    IndexSpec(INSTITUTIONS, [("ownership", 1), ("reporting_level", 1)]),
    IndexSpec(ORGANIZATIONS, [("institution_id", 1), ("name", 1)], unique=True),
    IndexSpec(ORGANIZATIONS, [("institution_ids", 1)]),
    IndexSpec(MEMBERS, [("id_lookup", 1)], unique=True),
    IndexSpec(MEMBERS, [("organization_id", 1)]),
    IndexSpec(MEMBERS, [("transfer.id", 1)]),
    IndexSpec(MEMBERS, [("transfer.status", 1), ("transfer.deadline", 1)]),
    IndexSpec(API_KEYS, [("institution_id", 1)]),
    IndexSpec(AUDIT, [("at", 1)]),
)

Doc = dict[str, Any]


class DuplicateKey(Exception):
    """A unique natural key (USCC, organisation name in its institution, ID number) is taken."""


def wrap(
    payloads: Sequence[EventPayload], *, reporting_level: str | None = None
) -> list[tuple[EventPayload, CloudEvent]]:
    """Envelopes for `payloads`, with the institution as the `institutionid` extension."""
    out = []
    for p in payloads:
        ext: dict[str, Any] = {"institutionid": getattr(p, "institution_id", None)}
        if reporting_level:
            ext["reportinglevel"] = reporting_level
        out.append((p, envelope(p, source=SOURCE, **ext)))
    return out


class RegistryStore:
    """The collections, over a database that exists once the runtime has started."""

    def __init__(self, database: Callable[[], AsyncDatabase[Doc]],
                 announce: Callable[[str, Any], None] = lambda collection, doc_id: None) -> None:
        self._database = database
        self._announce = announce  # tells the outbox relay which document has events to send

    @property
    def db(self) -> AsyncDatabase[Doc]:
        return self._database()

    async def insert(
        self,
        collection: str,
        doc: Mapping[str, Any],
        events: Sequence[EventPayload] = (),
        *,
        reporting_level: str | None = None,
    ) -> Doc:
        full = {**doc, "version": 1, **outbox_fields(wrap(events, reporting_level=reporting_level))}
        try:
            await self.db[collection].insert_one(full)
        except Exception as exc:
            if is_duplicate_key(exc):
                raise DuplicateKey(collection) from None
            raise
        if events:
            self._announce(collection, full["_id"])
        return full

    async def update(
        self,
        collection: str,
        query: Mapping[str, Any],
        update: Mapping[str, Any],
        events: Sequence[EventPayload] = (),
        *,
        reporting_level: str | None = None,
    ) -> Doc | None:
        """Apply `update` (and append `events`) to the document matching `query`; None when
        nothing matched (someone else changed it first, or it does not exist)."""
        merged = outbox_push(update, wrap(events, reporting_level=reporting_level))
        merged.setdefault("$inc", {})["version"] = 1
        try:
            stored = await self.db[collection].find_one_and_update(
                dict(query), merged, return_document=ReturnDocument.AFTER
            )
        except Exception as exc:
            if is_duplicate_key(exc):
                raise DuplicateKey(collection) from None
            raise
        if stored is not None and events:
            self._announce(collection, stored["_id"])
        return stored

    async def get(self, collection: str, doc_id: str) -> Doc | None:
        return await self.db[collection].find_one({"_id": doc_id}, {"outbox": 0})

    async def find_one(self, collection: str, query: Mapping[str, Any]) -> Doc | None:
        return await self.db[collection].find_one(dict(query), {"outbox": 0})

    async def find(
        self, collection: str, query: Mapping[str, Any], *, sort: str = "_id", skip: int = 0, limit: int = 0
    ) -> list[Doc]:
        cursor = self.db[collection].find(dict(query), {"outbox": 0}).sort(sort, 1).skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return await cursor.to_list(None)

    async def count(self, collection: str, query: Mapping[str, Any]) -> int:
        return int(await self.db[collection].count_documents(dict(query)))

    async def audit(self, entry: Mapping[str, Any]) -> None:
        await self.db[AUDIT].insert_one(dict(entry))
