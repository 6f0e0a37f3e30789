"""The registry projection in the activity store, built only from `registry.events.v1`: what the
reference checks and the API-key authentication read. Every write is an idempotent upsert, so a
redelivered registry event changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from alliance_shared.mongo import IndexSpec, by_ids
from alliance_shared.runtime import Runtime

from ..domain.model import Institution, Member, Organization, Posting, Reference

INSTITUTIONS, ORGANIZATIONS, MEMBERS, API_KEYS = "institutions", "organizations", "members", "api_keys"

INDEXES = (
    IndexSpec(MEMBERS, [("organization_id", 1), ("left_at", 1)]),
    IndexSpec(API_KEYS, [("institution_id", 1)]),
)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class RegistryProjection:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def _col(self, name: str) -> Any:
        return self._runtime.db[name]

    # -- writes (one per registry fact) ----------------------------------------------------------
    async def put_institution(self, institution_id: str, fields: dict[str, Any]) -> None:
        await self._col(INSTITUTIONS).update_one({"_id": institution_id}, {"$set": fields}, upsert=True)

    async def put_organization(self, organization_id: str, fields: dict[str, Any]) -> None:
        await self._col(ORGANIZATIONS).update_one({"_id": organization_id}, {"$set": fields}, upsert=True)

    async def put_member(self, member_id: str, fields: dict[str, Any], posting: Posting | None = None) -> None:
        update: dict[str, Any] = {"$set": fields}
        if posting is not None:
            update["$addToSet"] = {
                "postings": {
                    "organization_id": posting.organization_id,
                    "institution_id": posting.institution_id,
                    "since": posting.since.isoformat(),
                }
            }
        await self._col(MEMBERS).update_one({"_id": member_id}, update, upsert=True)

    async def put_api_key(self, key_id: str, fields: dict[str, Any]) -> None:
        await self._col(API_KEYS).update_one({"_id": key_id}, {"$set": fields}, upsert=True)

    # -- reads ---------------------------------------------------------------------------------
    async def reference(
        self, institution_ids: Iterable[str], organization_ids: Iterable[str], member_ids: Iterable[str]
    ) -> Reference:
        """Everything a batch's checks need, each document read by `_id`."""
        inst_ids, org_ids, mem_ids = (
            list(set(institution_ids)),
            list(set(organization_ids)),
            list(set(member_ids)),
        )
        institutions = (
            {
                d["_id"]: Institution(d["_id"], d.get("reporting_level"))
                for d in (await by_ids(self._col(INSTITUTIONS), inst_ids)).values()
            }
            if inst_ids
            else {}
        )
        members: dict[str, Member] = {}
        if mem_ids:
            for d in (await by_ids(self._col(MEMBERS), mem_ids)).values():
                postings = tuple(
                    Posting(p["organization_id"], p["institution_id"], date.fromisoformat(p["since"]))
                    for p in d.get("postings") or ()
                )
                members[d["_id"]] = Member(
                    d["_id"], postings, _day(d.get("joined_at")) or date.min, _day(d.get("left_at"))
                )
        # the organisations members were posted to, too: a joint branch's member may be reported
        # by any institution the joint branch covers
        wanted_orgs = sorted(set(org_ids) | {p.organization_id for m in members.values() for p in m.postings})
        organizations = (
            {
                d["_id"]: Organization(
                    d["_id"],
                    tuple(d.get("institution_ids") or ()),
                    _day(d.get("established_at")) or date.min,
                    _day(d.get("closed_at")),
                )
                for d in (await by_ids(self._col(ORGANIZATIONS), wanted_orgs)).values()
            }
            if wanted_orgs
            else {}
        )
        counts: dict[str, int] = {}
        if org_ids:
            pipeline = [
                {"$match": {"organization_id": {"$in": org_ids}, "left_at": None}},
                {"$group": {"_id": "$organization_id", "n": {"$sum": 1}}},
            ]
            async for row in await self._col(MEMBERS).aggregate(pipeline):
                counts[row["_id"]] = int(row["n"])
        return Reference(institutions, organizations, members, counts)

    async def api_key(self, key_id: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = await self._col(API_KEYS).find_one({"_id": key_id})
        return doc

    async def live_keys_of(self, institution_id: str) -> list[dict[str, Any]]:
        return [d async for d in self._col(API_KEYS).find({"institution_id": institution_id, "revoked_at": None})]
