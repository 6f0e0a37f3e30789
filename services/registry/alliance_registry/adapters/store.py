"""The registry's MongoDB collections: every write that changes state carries its events in the
same document operation (single-document outbox), relayed to `registry.events.v1`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from alliance_shared.audit import audit_document
from alliance_shared.contracts.audit import RegistryActionAudited
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.mongo import IndexSpec, is_duplicate_key, outbox_fields, outbox_push
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, OperationFailure

SOURCE = "/registry"

INSTITUTIONS = "institutions"
ORGANIZATIONS = "organizations"
MEMBERS = "members"
API_KEYS = "api_keys"
AUDIT = "audit"
IMPORTS = "imports"  # one status document per bulk import: progress, then the per-row report

# relayed in this order within a pass, so an institution's registration precedes its branches'
# (audit records go to evaluation, which serves the platform's audit trail)
OUTBOX_COLLECTIONS = (INSTITUTIONS, ORGANIZATIONS, MEMBERS, API_KEYS, AUDIT)

INDEXES = (
    IndexSpec(INSTITUTIONS, [("uscc", 1)], unique=True),
    IndexSpec(INSTITUTIONS, [("ownership", 1), ("reporting_level", 1)]),
    IndexSpec(ORGANIZATIONS, [("institution_id", 1), ("name", 1)], unique=True),
    IndexSpec(ORGANIZATIONS, [("institution_ids", 1)]),
    IndexSpec(ORGANIZATIONS, [("name", 1)]),  # a roster names its branches: one $in per chunk
    IndexSpec(ORGANIZATIONS, [("parent_id", 1)]),  # a tree's attached branches of other institutions
    IndexSpec(INSTITUTIONS, [("name", 1)]),  # … and its institutions, by USCC or by name
    IndexSpec(MEMBERS, [("id_lookup", 1)], unique=True),
    IndexSpec(MEMBERS, [("organization_id", 1)]),
    IndexSpec(MEMBERS, [("institution_id", 1), ("_id", 1)]),  # an institution's roster, page by page
    IndexSpec(MEMBERS, [("transfer.id", 1)]),
    IndexSpec(MEMBERS, [("transfer.status", 1), ("transfer.deadline", 1)]),
    IndexSpec(API_KEYS, [("institution_id", 1)]),
    IndexSpec(AUDIT, [("object_id", 1)]),
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
    """The collections, over a database that exists once the runtime has started. The only place
    that holds a database handle: use cases and views call these methods."""

    def __init__(self, database: Callable[[], AsyncDatabase[Doc]],
                 wake: Callable[[str], None] = lambda collection: None) -> None:
        self._database = database
        self._wake = wake  # tells the outbox relay that events wait in a collection (it finds them)

    @property
    def _db(self) -> AsyncDatabase[Doc]:
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
            await self._db[collection].insert_one(full)
        except Exception as exc:
            if is_duplicate_key(exc):
                raise DuplicateKey(collection) from None
            raise
        if events:
            self._wake(collection)
        return full

    async def insert_new(
        self,
        collection: str,
        docs: Sequence[tuple[Mapping[str, Any], Sequence[EventPayload]]],
        *,
        reporting_level: str | None = None,
    ) -> set[int]:
        """Insert every document with its events in one unordered command; returns the positions
        of those refused because a unique key is taken (registered before, or twice in `docs`).
        The others are stored whatever happened to the refused ones. `reporting_level` names a
        field of each document whose value goes into its events' envelopes (an institution's)."""
        if not docs:
            return set()
        full = [
            {
                **doc,
                "version": 1,
                **outbox_fields(wrap(events, reporting_level=doc[reporting_level] if reporting_level else None)),
            }
            for doc, events in docs
        ]
        taken: set[int] = set()
        try:
            await self._db[collection].insert_many(full, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            other = [e for e in errors if not is_duplicate_key(OperationFailure(e.get("errmsg", ""), e.get("code")))]
            if other or exc.details.get("writeConcernErrors"):
                raise
            taken = {int(e["index"]) for e in errors}
        if len(taken) < len(full):
            self._wake(collection)
        return taken

    async def find_in(
        self, collection: str, field: str, values: Iterable[Any], fields: Sequence[str] = ()
    ) -> list[Doc]:
        """The documents whose `field` is one of `values` (one `$in`, through `field`'s index)."""
        wanted = list(dict.fromkeys(values))
        if not wanted:
            return []
        projection = dict.fromkeys(fields, 1) if fields else {"outbox": 0}
        return await self._db[collection].find({field: {"$in": wanted}}, projection).to_list(None)

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
            stored = await self._db[collection].find_one_and_update(
                dict(query), merged, return_document=ReturnDocument.AFTER
            )
        except Exception as exc:
            if is_duplicate_key(exc):
                raise DuplicateKey(collection) from None
            raise
        if stored is not None and events:
            self._wake(collection)
        return stored

    async def get(self, collection: str, doc_id: str) -> Doc | None:
        return await self._db[collection].find_one({"_id": doc_id}, {"outbox": 0})

    async def find_one(self, collection: str, query: Mapping[str, Any]) -> Doc | None:
        return await self._db[collection].find_one(dict(query), {"outbox": 0})

    async def find(
        self, collection: str, query: Mapping[str, Any], *, sort: str = "_id", skip: int = 0, limit: int = 0
    ) -> list[Doc]:
        cursor = self._db[collection].find(dict(query), {"outbox": 0}).sort(sort, 1).skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return await cursor.to_list(None)

    async def count(self, collection: str, query: Mapping[str, Any]) -> int:
        return int(await self._db[collection].count_documents(dict(query)))

    async def audit(self, record: RegistryActionAudited) -> None:
        """Store an audit record and announce it in the same write (evaluation serves the trail)."""
        await self._db[AUDIT].insert_one({**audit_document(record), **outbox_fields(wrap([record]))})
        self._wake(AUDIT)

    async def record(self, collection: str, doc: Mapping[str, Any]) -> None:
        """Store a document that announces nothing (an import's status document)."""
        await self._db[collection].insert_one(dict(doc))

    async def note(self, collection: str, doc_id: str, fields: Mapping[str, Any]) -> None:
        """Set `fields` on a document only its writer changes (an import's progress)."""
        await self._db[collection].update_one({"_id": doc_id}, {"$set": dict(fields)})
