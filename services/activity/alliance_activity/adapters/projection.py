"""The registry projection in the activity store, built only from `registry.events.v1`: what the
reference checks and the API-key authentication read. Every write is an idempotent upsert, so a
redelivered registry event changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from alliance_shared.mongo import IndexSpec, is_duplicate_key
from alliance_shared.runtime import Runtime
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, OperationFailure

from ..domain.model import Institution, Member, Organization, Posting, Reference

INSTITUTIONS, ORGANIZATIONS, MEMBERS, API_KEYS = "institutions", "organizations", "members", "api_keys"
MAX_TREE_DEPTH = 6  # committee → general branch → branch, with room for deeper trees

INDEXES = (
    IndexSpec(MEMBERS, [("organization_id", 1), ("left_at", 1)]),
    IndexSpec(ORGANIZATIONS, [("institution_ids", 1)]),  # the form's branch list
    IndexSpec(API_KEYS, [("institution_id", 1)]),
)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class RegistryProjection:
    """Registry facts arrive through `put_*` and are written at the end of the consumer's batch
    (`flush`): a document's facts of the batch folded into one write, the documents not yet
    projected in one `insert_many` per collection (one `_id` `$in` says which), the others in one
    bulk write; reads take one `$in` per collection."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._pending: dict[str, dict[str, _Folded]] = {}

    def _col(self, name: str) -> Any:
        return self._runtime.db[name]

    # -- writes (a registry fact folded into its document's write, written per batch) -----------
    def _put(self, name: str, doc_id: str, fields: dict[str, Any], posting: dict[str, Any] | None = None) -> None:
        folded = self._pending.setdefault(name, {}).setdefault(doc_id, _Folded())
        folded.fields.update(fields)  # a later fact of the batch wins, as its upsert would
        if posting is not None and posting not in folded.postings:
            folded.postings.append(posting)

    def put_institution(self, institution_id: str, fields: dict[str, Any]) -> None:
        self._put(INSTITUTIONS, institution_id, fields)

    def put_organization(self, organization_id: str, fields: dict[str, Any]) -> None:
        self._put(ORGANIZATIONS, organization_id, fields)

    def put_member(self, member_id: str, fields: dict[str, Any], posting: Posting | None = None) -> None:
        self._put(MEMBERS, member_id, fields, None if posting is None else {
            "organization_id": posting.organization_id,
            "institution_id": posting.institution_id,
            "since": posting.since.isoformat(),
        })

    def put_api_key(self, key_id: str, fields: dict[str, Any]) -> None:
        self._put(API_KEYS, key_id, fields)

    async def flush(self) -> None:
        """Write what the batch's registry events said: per collection, one `$in` for the ids
        already projected, one unordered `insert_many` of the new documents, one unordered bulk
        write of the others (each document's facts folded in order into one update). Every write
        is idempotent: a flush that failed half-way is simply tried again whole (what it inserted
        is then updated)."""
        pending, self._pending = self._pending, {}
        try:
            for name, docs in pending.items():
                await self._write(name, docs)
        except BaseException:
            for name, docs in pending.items():
                for doc_id, folded in self._pending.get(name, {}).items():
                    docs.setdefault(doc_id, _Folded()).then(folded)
                self._pending[name] = docs
            raise

    async def _write(self, name: str, docs: dict[str, _Folded]) -> None:
        col = self._col(name)
        existing = {d["_id"] for d in await col.find({"_id": {"$in": list(docs)}}, {"_id": 1},
                                                     batch_size=len(docs) + 1).to_list(None)}
        new = [doc_id for doc_id in docs if doc_id not in existing]
        if new:
            try:
                await col.insert_many([docs[doc_id].document(doc_id) for doc_id in new], ordered=False)
            except BulkWriteError as exc:  # projected meanwhile by another replica: update those
                errors = exc.details.get("writeErrors", [])
                if any(not is_duplicate_key(OperationFailure(e.get("errmsg", ""), e.get("code"))) for e in errors):
                    raise
                existing |= {new[int(e["index"])] for e in errors}
        updates = [UpdateOne({"_id": doc_id}, docs[doc_id].update(), upsert=True) for doc_id in docs
                   if doc_id in existing and (docs[doc_id].fields or docs[doc_id].postings)]
        if updates:
            await col.bulk_write(updates, ordered=False)

    # -- reads ---------------------------------------------------------------------------------
    async def _by_id(self, name: str, ids: Iterable[str]) -> list[dict[str, Any]]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        cursor = self._col(name).find({"_id": {"$in": wanted}}, batch_size=len(wanted) + 1)  # one round trip
        docs: list[dict[str, Any]] = await cursor.to_list(None)
        return docs

    async def reference(
        self, institution_ids: Iterable[str], organization_ids: Iterable[str], member_ids: Iterable[str],
        secretaries: Iterable[str] = (),
    ) -> Reference:
        """Everything a batch's checks need: one `$in` per collection, and the branches' sizes; when
        a secretary of one of `secretaries` names another organisation, the organisations above
        those named too (one `$in` a level), so that a committee's secretary may file for its branches."""
        institutions = {
            d["_id"]: Institution(d["_id"], d.get("reporting_level"))
            for d in await self._by_id(INSTITUTIONS, institution_ids)
        }
        members: dict[str, Member] = {}
        for d in await self._by_id(MEMBERS, member_ids):
            postings = tuple(
                Posting(p["organization_id"], p["institution_id"], date.fromisoformat(p["since"]))
                for p in d.get("postings") or ()
            )
            members[d["_id"]] = Member(d["_id"], postings, _day(d.get("joined_at")) or date.min, _day(d.get("left_at")))
        # the organisations members were posted to, too: a joint branch's member may be reported
        # by any institution the joint branch covers
        org_ids = sorted(set(organization_ids))
        wanted_orgs = set(org_ids) | {p.organization_id for m in members.values() for p in m.postings}
        organizations = {d["_id"]: _organization(d) for d in await self._by_id(ORGANIZATIONS, wanted_orgs)}
        own = set(secretaries)
        if own and not set(organizations) <= own:
            for _ in range(MAX_TREE_DEPTH):
                above = {o.parent_id for o in organizations.values() if o.parent_id} - set(organizations)
                if not above:
                    break
                organizations |= {d["_id"]: _organization(d) for d in await self._by_id(ORGANIZATIONS, above)}
        counts: dict[str, int] = {}
        if org_ids:
            pipeline = [
                {"$match": {"organization_id": {"$in": org_ids}, "left_at": None}},
                {"$group": {"_id": "$organization_id", "n": {"$sum": 1}}},
            ]
            async for row in await self._col(MEMBERS).aggregate(pipeline):
                counts[row["_id"]] = int(row["n"])
        return Reference(institutions, organizations, members, counts)

    # -- what the L1 form shows ------------------------------------------------------------------
    async def institutions(self) -> list[dict[str, Any]]:
        """Every institution the registry announced: id, name (the development sign-in's list) and
        what decides who reviews its reports (ownership, Party-organisation status)."""
        fields = {"name": 1, "ownership": 1, "party_org_status": 1}
        docs: list[dict[str, Any]] = await self._col(INSTITUTIONS).find({}, fields).to_list(None)
        return docs

    async def institution(self, institution_id: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = await self._col(INSTITUTIONS).find_one({"_id": institution_id})
        return doc

    async def organizations_of(self, institution_id: str) -> list[dict[str, Any]]:
        """The organisations covering an institution (a joint branch covers several)."""
        fields = {"name": 1, "kind": 1, "institution_ids": 1, "established_at": 1, "closed_at": 1,
                  "has_party_groups": 1, "parent_id": 1}
        docs: list[dict[str, Any]] = await self._col(ORGANIZATIONS).find({"institution_ids": institution_id},
                                                                         fields).to_list(None)
        return docs

    async def organization(self, organization_id: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = await self._col(ORGANIZATIONS).find_one({"_id": organization_id})
        return doc

    async def roll(self, organization_id: str) -> list[dict[str, Any]]:
        """The members on an organisation's roll now (ids, institution, status: no names travel)."""
        query = {"organization_id": organization_id, "left_at": None}
        fields = {"institution_id": 1, "status": 1, "joined_at": 1}
        docs: list[dict[str, Any]] = await self._col(MEMBERS).find(query, fields).to_list(None)
        return docs

    async def api_key(self, key_id: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = await self._col(API_KEYS).find_one({"_id": key_id})
        return doc

    async def live_keys_of(self, institution_id: str) -> list[dict[str, Any]]:
        return [d async for d in self._col(API_KEYS).find({"institution_id": institution_id, "revoked_at": None})]


@dataclass
class _Folded:
    """A document's registry facts of one batch: the fields they set, in order, and the postings
    they add (a member's organisations over time, kept once each)."""

    fields: dict[str, Any] = field(default_factory=dict)
    postings: list[dict[str, Any]] = field(default_factory=list)

    def then(self, later: _Folded) -> None:
        self.fields.update(later.fields)
        self.postings += [p for p in later.postings if p not in self.postings]

    def document(self, doc_id: str) -> dict[str, Any]:
        return {"_id": doc_id, **self.fields, **({"postings": list(self.postings)} if self.postings else {})}

    def update(self) -> dict[str, Any]:
        update: dict[str, Any] = {"$set": self.fields} if self.fields else {}
        if self.postings:
            update["$addToSet"] = {"postings": {"$each": list(self.postings)}}
        return update


def _organization(d: dict[str, Any]) -> Organization:
    return Organization(
        d["_id"],
        tuple(d.get("institution_ids") or ()),
        _day(d.get("established_at")) or date.min,
        _day(d.get("closed_at")),
        d.get("parent_id"),
    )
