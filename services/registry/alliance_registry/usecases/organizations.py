"""The organisation tree: open, update, close."""

from __future__ import annotations

from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts import registry as registry_events
from alliance_shared.contracts.vocabulary import OrganizationKind, Role
from alliance_shared.errors import Invalid

from ..adapters.store import ORGANIZATIONS, DuplicateKey
from ..domain import access, commands
from ..domain.errors import (
    AlreadyRegistered,
    OrganizationClosed,
    UnknownOrganization,
)
from .context import ChangedConcurrently, RegistryUnit, contact_of, new_id
from .institutions import load_institution

Doc = dict[str, Any]


# -- organisations -------------------------------------------------------------------------------
async def load_organization(reg: RegistryUnit, oid: str, field: str = "organization_id") -> Doc:
    doc = await reg.store.get(ORGANIZATIONS, oid)
    if doc is None:
        raise UnknownOrganization(field)
    return doc


async def _check_parent(
    reg: RegistryUnit, parent_id: str | None, institution_ids: list[str], self_id: str | None,
    kind: str = OrganizationKind.BRANCH.value,
) -> None:
    parent = None if parent_id is None or parent_id == self_id else await load_organization(reg, parent_id, "parent_id")
    check_parent(parent_id, parent, institution_ids, self_id, kind)


def check_parent(
    parent_id: str | None, parent: Doc | None, institution_ids: list[str], self_id: str | None,
    kind: str = OrganizationKind.BRANCH.value,
) -> None:
    """`parent` (loaded, the organisation `parent_id` names) may have a child of `kind` covering
    `institution_ids`."""
    affiliated = kind == OrganizationKind.AFFILIATED_BRANCH
    if parent_id is None:
        if affiliated:
            raise Invalid(
                "挂靠党支部须挂靠于上级党组织 / an affiliated branch is attached to a parent organisation",
                field="parent_id",
            )
        return
    if parent_id == self_id:
        raise Invalid("上级组织不能是自身 / an organisation cannot be its own parent", field="parent_id")
    if parent is None:
        raise UnknownOrganization("parent_id")
    if parent.get("closed_at"):
        raise OrganizationClosed("parent_id")
    if affiliated:
        # 挂靠建 (四(三)1): the branch's members are of its own institution; its parent is another
        # organisation's committee or general branch (an industry association's, a larger institution's)
        if parent["kind"] not in (OrganizationKind.COMMITTEE, OrganizationKind.GENERAL_BRANCH):
            raise Invalid(
                "挂靠党支部须挂靠于党委或党总支 / an affiliated branch is attached to a committee or a general branch",
                field="parent_id",
            )
        return
    if parent["kind"] == OrganizationKind.PARTY_GROUP or not set(parent["institution_ids"]) & set(
        institution_ids
    ):
        raise Invalid(
            "上级组织不在同一机构或不能有下级 / the parent must be in the same institution and "
            "may not be a party group",
            field="parent_id",
        )


def _organization_event(doc: Doc) -> registry_events.OrganizationUpdated:
    return registry_events.OrganizationUpdated(
        organization_id=doc["_id"],
        institution_id=doc["institution_id"],
        institution_ids=doc["institution_ids"],
        name=doc["name"],
        parent_id=doc.get("parent_id"),
        has_party_groups=doc["has_party_groups"],
        secretary=contact_of(doc.get("secretary")),
    )


async def open_organization(reg: RegistryUnit, cmd: commands.OpenOrganization, who: Principal) -> Doc:
    for iid in dict.fromkeys(cmd.institution_ids):
        await load_institution(reg, iid, "institution_ids")
    parent = None if cmd.parent_id is None else await load_organization(reg, cmd.parent_id, "parent_id")
    doc, event = await new_organization(reg, cmd, who, parent)
    try:
        stored = await reg.store.insert(ORGANIZATIONS, doc, [event])
    except DuplicateKey:
        raise AlreadyRegistered(
            "该机构已有同名党组织 / the institution already has an organisation of that name", field="name"
        ) from None
    return stored


async def new_organization(
    reg: RegistryUnit, cmd: commands.OpenOrganization, who: Principal, parent: Doc | None
) -> tuple[Doc, registry_events.OrganizationOpened]:
    """The organisation's document and the event announcing it, for `cmd` whose institutions exist
    and whose `parent` is loaded: the checks every way of opening one shares (the API and the
    import, which stores a chunk's organisations in one command)."""
    ids = list(dict.fromkeys(cmd.institution_ids))
    if not ids:
        raise Invalid("至少需要一个所属机构 / at least one institution", field="institution_ids")
    if len(ids) > 1 and cmd.kind is not OrganizationKind.JOINT_BRANCH:
        raise Invalid(
            "只有联合党支部可覆盖多个机构 / only a joint branch covers several institutions",
            field="institution_ids",
        )
    if foreign := access.foreign_institutions(who, ids):
        raise await reg.deny(who, "organization.open", foreign[0], "institution_ids")
    check_parent(cmd.parent_id, parent, ids, None, cmd.kind.value)
    secretary = reg.seal_contact(cmd.secretary, "secretary")
    oid = new_id("org")
    established = cmd.established_at or reg.today()
    doc = {
        "_id": oid,
        "name": cmd.name.strip(),
        "kind": cmd.kind.value,
        "institution_id": ids[0],
        "institution_ids": ids,
        "parent_id": cmd.parent_id,
        "established_at": established.isoformat(),
        "closed_at": None,
        "has_party_groups": cmd.has_party_groups,
        "secretary": secretary,
    }
    event = registry_events.OrganizationOpened(
        organization_id=oid,
        institution_id=ids[0],
        institution_ids=ids,
        name=doc["name"],
        kind=cmd.kind,
        parent_id=cmd.parent_id,
        established_at=established,
        has_party_groups=cmd.has_party_groups,
        secretary=contact_of(secretary),
    )
    return doc, event


async def update_organization(reg: RegistryUnit, cmd: commands.UpdateOrganization, who: Principal) -> Doc:
    doc = await load_organization(reg, cmd.organization_id)
    if not access.may_manage_organization(who, doc["_id"], doc["institution_ids"]):
        raise await reg.deny(who, "organization.update", doc["_id"])
    if doc.get("closed_at"):
        raise OrganizationClosed()
    changes: Doc = {}
    if cmd.name is not None:
        changes["name"] = cmd.name.strip()
    if cmd.parent_id is not None:
        await _check_parent(reg, cmd.parent_id, doc["institution_ids"], doc["_id"], doc["kind"])
        changes["parent_id"] = cmd.parent_id
    if cmd.has_party_groups is not None:
        changes["has_party_groups"] = cmd.has_party_groups
    if cmd.secretary is not None:
        changes["secretary"] = reg.seal_contact(cmd.secretary, "secretary")
    if not changes:
        return doc
    event = _organization_event({**doc, **changes})
    try:
        stored = await reg.store.update(
            ORGANIZATIONS, {"_id": doc["_id"], "version": doc["version"]}, {"$set": changes}, [event]
        )
    except DuplicateKey:
        raise AlreadyRegistered(
            "该机构已有同名党组织 / the institution already has an organisation of that name", field="name"
        ) from None
    if stored is None:
        raise ChangedConcurrently()
    return stored


async def close_organization(reg: RegistryUnit, cmd: commands.CloseOrganization, who: Principal) -> Doc:
    doc = await load_organization(reg, cmd.organization_id)
    if (
        not access.may_manage_organization(who, None, doc["institution_ids"])
        or who.role is Role.BRANCH_SECRETARY
    ):
        raise await reg.deny(who, "organization.close", doc["_id"])
    closed = cmd.closed_at or reg.today()
    if closed.isoformat() < doc["established_at"]:
        raise Invalid("撤销日期早于成立日期 / closed before it was established", field="closed_at")
    event = registry_events.OrganizationClosed(
        organization_id=doc["_id"], institution_id=doc["institution_id"], closed_at=closed
    )
    stored = await reg.store.update(
        ORGANIZATIONS,
        {"_id": doc["_id"], "closed_at": None},
        {"$set": {"closed_at": closed.isoformat()}},
        [event],
    )
    if stored is None:
        raise OrganizationClosed()
    return stored
