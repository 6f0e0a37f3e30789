"""Read side of the registry: what a caller may see, loaded from the store (cosmicpython's views).
Every read is checked against the caller's tenancy; a refusal is audited."""

from __future__ import annotations

from datetime import date
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role

from ..adapters.store import API_KEYS, INSTITUTIONS, MEMBERS, ORGANIZATIONS
from ..domain import access
from ..domain.classification import Classification, ClassificationHistory
from ..domain.errors import UnknownTransfer
from ..domain.transfers import Transfer
from ..handlers import load_institution, load_member, load_organization
from .context import RegistryUnit

Doc = dict[str, Any]


async def institution(
    reg: RegistryUnit, iid: str, who: Principal, as_of: date | None
) -> tuple[Doc, Classification]:
    doc = await load_institution(reg, iid)
    if not access.may_read_institution(who, iid):
        raise await reg.deny(who, "institution.read", iid)
    history = ClassificationHistory.from_list(doc["classifications"])
    return doc, history.as_of(as_of or reg.today())


async def institutions(
    reg: RegistryUnit,
    who: Principal,
    *,
    ownership: str | None,
    reporting_level: str | None,
    page: int,
    page_size: int,
) -> tuple[list[Doc], int]:
    query: Doc = {}
    if ownership:
        query["ownership"] = ownership
    if reporting_level:
        query["reporting_level"] = reporting_level
    if who.role not in (Role.SECRETARIAT, Role.EVALUATOR, Role.REGULATOR):
        query["_id"] = who.institution_id or "-"  # a scoped caller lists only its own institution
    total = await reg.store.count(INSTITUTIONS, query)
    items = await reg.store.find(
        INSTITUTIONS, query, sort="name", skip=(page - 1) * page_size, limit=page_size
    )
    return items, total


async def api_keys(reg: RegistryUnit, iid: str, who: Principal) -> list[Doc]:
    await load_institution(reg, iid)
    if not access.may_manage_institution(who, iid):
        raise await reg.deny(who, "api_key.list", iid)
    return await reg.store.find(API_KEYS, {"institution_id": iid}, sort="issued_at")


def _tree(docs: list[Doc], roots: list[Doc]) -> list[Doc]:
    children: dict[str, list[Doc]] = {}
    for d in docs:
        if d.get("parent_id"):
            children.setdefault(d["parent_id"], []).append(d)

    def grow(node: Doc, seen: frozenset[str]) -> Doc:
        kids = [grow(k, seen | {k["_id"]}) for k in children.get(node["_id"], []) if k["_id"] not in seen]
        return {**node, "children": kids}

    return [grow(r, frozenset({r["_id"]})) for r in roots]


async def organization(reg: RegistryUnit, oid: str, who: Principal) -> Doc:
    """One organisation with its subtree."""
    doc = await load_organization(reg, oid)
    if not access.may_read_organization(who, oid, doc["institution_ids"]):
        raise await reg.deny(who, "organization.read", oid)
    family = await _with_attached(reg, await reg.store.find(
        ORGANIZATIONS, {"institution_ids": {"$in": doc["institution_ids"]}}))
    return _tree(family, [doc])[0]


async def _with_attached(reg: RegistryUnit, docs: list[Doc]) -> list[Doc]:
    """`docs` and the branches of other institutions attached to them (挂靠党支部), by one `$in`
    on `parent_id`: the host's committee lists them among its children."""
    ids = [d["_id"] for d in docs]
    known = set(ids)
    attached = await reg.store.find(ORGANIZATIONS, {"parent_id": {"$in": ids}}) if ids else []
    return docs + [d for d in attached if d["_id"] not in known]


async def institution_organizations(reg: RegistryUnit, iid: str, who: Principal) -> list[Doc]:
    """The institution's organisation tree (joint branches covering it included)."""
    await load_institution(reg, iid)
    if not access.may_read_institution(who, iid) or who.role is Role.BRANCH_SECRETARY:
        raise await reg.deny(who, "organization.tree", iid)
    own = await reg.store.find(ORGANIZATIONS, {"institution_ids": iid}, sort="established_at")
    docs = await _with_attached(reg, own)
    ids = {d["_id"] for d in docs}
    return _tree(docs, [d for d in own if not d.get("parent_id") or d["parent_id"] not in ids])


async def member(reg: RegistryUnit, mid: str, who: Principal) -> Doc:
    doc = await load_member(reg, mid)
    if not access.may_read_member(who, doc["organization_id"], doc["institution_id"]):
        raise await reg.deny(who, "member.read", mid, "member_id")
    return doc


async def organization_members(reg: RegistryUnit, oid: str, who: Principal, *, include_left: bool) -> list[Doc]:
    org = await load_organization(reg, oid)
    scoped = who.role is Role.INSTITUTION_ADMIN or who.is_machine
    if not (
        who.is_secretariat
        or (who.role is Role.BRANCH_SECRETARY and who.organization_id == oid)
        or (scoped and who.institution_id in org["institution_ids"])
    ):
        raise await reg.deny(who, "member.list", oid)
    query: Doc = {"organization_id": oid}
    if scoped:  # in a joint branch, an institution sees its own people only
        query["institution_id"] = who.institution_id
    if not include_left:
        query["left_at"] = None
    return await reg.store.find(MEMBERS, query, sort="name")


async def institution_members(
    reg: RegistryUnit, iid: str, who: Principal, *, after: str | None, limit: int
) -> tuple[list[Doc], str | None]:
    """The institution's current members in id order, `limit` after the id `after` (keyset paging
    through the `(institution_id, _id)` index), and the cursor of the next page. The institution
    is read only when the page is empty or the caller may not list it (to answer 404 when it does
    not exist): a page of its members shows it does."""
    own = (who.role is Role.INSTITUTION_ADMIN or who.is_machine) and who.institution_id == iid
    if not (who.is_secretariat or own):
        await load_institution(reg, iid)
        raise await reg.deny(who, "member.list", iid, "institution_id")
    query: Doc = {"institution_id": iid, "left_at": None}
    if after:
        query["_id"] = {"$gt": after}
    page = await reg.store.find(MEMBERS, query, sort="_id", limit=limit + 1)
    if not page:
        await load_institution(reg, iid)
    return page[:limit], page[limit - 1]["_id"] if len(page) > limit else None


def _may_see_transfer(who: Principal, t: Transfer) -> bool:
    return access.may_read_member(
        who, t.from_organization_id, t.from_institution_id
    ) or access.may_read_member(who, t.to_organization_id, t.to_institution_id)


async def transfer(reg: RegistryUnit, tid: str, who: Principal) -> tuple[Transfer, Doc]:
    doc = await reg.store.find_one(MEMBERS, {"transfer.id": tid}) or await reg.store.find_one(
        MEMBERS, {"transfers.id": tid}
    )
    if doc is None:
        raise UnknownTransfer()
    raw = (
        doc["transfer"]
        if (doc.get("transfer") or {}).get("id") == tid
        else next(t for t in doc["transfers"] if t["id"] == tid)
    )
    found = Transfer.from_dict(raw)
    if not _may_see_transfer(who, found):
        raise await reg.deny(who, "transfer.read", tid, "transfer_id")
    return found, doc


async def transfers(reg: RegistryUnit, who: Principal, *, status: str | None) -> list[Transfer]:
    """The current transfer of every member the caller may see on either side."""
    query: Doc = {"transfer.status": status} if status else {"transfer": {"$ne": None}}
    found = [Transfer.from_dict(d["transfer"]) for d in await reg.store.find(MEMBERS, query)]
    return sorted((t for t in found if _may_see_transfer(who, t)), key=lambda t: t.requested_at)
