"""The registry's use cases: take a command and the caller, load, decide (domain), store with the
events in the same document (outbox), notify the relay. `COMMAND_HANDLERS` at the end is the
whole behaviour on one screen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from alliance_shared import auth
from alliance_shared.auth import Principal
from alliance_shared.contracts import registry as ev
from alliance_shared.contracts.vocabulary import OrganizationKind, Role
from alliance_shared.errors import Conflict, Forbidden, Invalid
from alliance_shared.pii import mask_id_number, mask_phone

from .adapters.store import API_KEYS, INSTITUTIONS, MEMBERS, ORGANIZATIONS, DuplicateKey
from .context import ChangedConcurrently, Registry, contact_of, new_id
from .domain import access
from .domain import commands as c
from .domain.classification import Classification, ClassificationHistory, Period
from .domain.errors import (
    AlreadyRegistered,
    OrganizationClosed,
    TooManyActiveKeys,
    UnknownApiKey,
    UnknownInstitution,
    UnknownMember,
    UnknownOrganization,
    UnknownTransfer,
)
from .domain.identifiers import normalize_id_number, normalize_phone, normalize_uscc
from .domain.members import check_cadre_roles, check_pipeline_step
from .domain.transfers import Transfer, TransferStatus

Doc = dict[str, Any]
SYSTEM = Principal(subject="system:registry", role=Role.SECRETARIAT)


# -- institutions ------------------------------------------------------------------------------
async def register_institution(reg: Registry, cmd: c.RegisterInstitution, who: Principal) -> Doc:
    if not access.may_register_institution(who):
        raise await reg.deny(who, "institution.register", "institutions")
    uscc = normalize_uscc(cmd.uscc)
    cls = Classification(
        cmd.ownership, cmd.party_org_status, cmd.reporting_level, cmd.alliance_role, cmd.sector.strip()
    )
    effective = cmd.effective_from or reg.today()
    history = ClassificationHistory([Period(effective, cls)])
    contact = reg.seal_contact(cmd.contact, "contact")
    iid = new_id("ins")
    event = ev.InstitutionRegistered(
        institution_id=iid,
        uscc=uscc,
        name=cmd.name.strip(),
        classification=ev.InstitutionClassification(**cls.to_dict()),
        effective_from=effective,
        contact=contact_of(contact),
    )
    doc = {
        "_id": iid,
        "uscc": uscc,
        "name": cmd.name.strip(),
        "classifications": history.to_list(),
        **cls.to_dict(),
        "contact": contact,
        "registered_at": reg.now(),
    }
    try:
        stored = await reg.store.insert(INSTITUTIONS, doc, [event], reporting_level=cls.reporting_level)
    except DuplicateKey:
        raise AlreadyRegistered("统一社会信用代码已登记 / USCC already registered", field="uscc") from None
    reg.notify()
    return stored


async def load_institution(reg: Registry, iid: str, field: str = "institution_id") -> Doc:
    doc = await reg.store.get(INSTITUTIONS, iid)
    if doc is None:
        raise UnknownInstitution(field)
    return doc


async def reclassify_institution(reg: Registry, cmd: c.ReclassifyInstitution, who: Principal) -> Doc:
    doc = await load_institution(reg, cmd.institution_id)
    if not access.may_manage_institution(who, doc["_id"]):
        raise await reg.deny(who, "institution.reclassify", doc["_id"])
    if cmd.alliance_role is not None and not who.is_secretariat:
        raise Forbidden(
            "只有秘书处可以调整联盟角色 / only the secretariat sets the alliance role", field="alliance_role"
        )
    history = ClassificationHistory.from_list(doc["classifications"])
    previous = history.current.classification
    new = previous.changed(
        ownership=cmd.ownership,
        party_org_status=cmd.party_org_status,
        reporting_level=cmd.reporting_level,
        alliance_role=cmd.alliance_role,
        sector=cmd.sector.strip() if cmd.sector is not None else None,
    )
    contact = reg.seal_contact(cmd.contact, "contact") if cmd.contact is not None else doc.get("contact")
    name = cmd.name.strip() if cmd.name else doc["name"]
    if new == previous and cmd.contact is None and name == doc["name"]:
        return doc  # nothing changes, nothing to announce
    effective = cmd.effective_from or reg.today()
    if new != previous:
        history = history.reclassify(new, effective)
    event = ev.InstitutionReclassified(
        institution_id=doc["_id"],
        classification=ev.InstitutionClassification(**new.to_dict()),
        previous=ev.InstitutionClassification(**previous.to_dict()),
        effective_from=effective,
        name=name,
        contact=contact_of(contact),
    )
    stored = await reg.store.update(
        INSTITUTIONS,
        {"_id": doc["_id"], "version": doc["version"]},
        {"$set": {"classifications": history.to_list(), **new.to_dict(), "name": name, "contact": contact}},
        [event],
        reporting_level=new.reporting_level,
    )
    if stored is None:
        raise ChangedConcurrently()
    reg.notify()
    return stored


# -- machine credentials -------------------------------------------------------------------------
async def issue_api_key(reg: Registry, cmd: c.IssueApiKey, who: Principal) -> tuple[Doc, str]:
    await load_institution(reg, cmd.institution_id)
    if not access.may_manage_institution(who, cmd.institution_id):
        raise await reg.deny(who, "api_key.issue", cmd.institution_id)
    active = await reg.store.count(API_KEYS, {"institution_id": cmd.institution_id, "revoked_at": None})
    if active >= reg.settings.max_active_api_keys:
        raise TooManyActiveKeys(
            f"有效密钥已达上限 {reg.settings.max_active_api_keys}，请先吊销旧密钥 / "
            "too many active keys; revoke one first",
            field="institution_id",
        )
    key_id, api_key = auth.generate_api_key()
    prefix = f"{auth.API_KEY_PREFIX}{key_id}"
    now = reg.now()
    event = ev.ApiKeyIssued(
        institution_id=cmd.institution_id,
        key_id=key_id,
        key_hash=auth.hash_api_key(api_key),
        sealed_key=reg.vault.seal(api_key),
        prefix=prefix,
        issued_at=now,
    )
    doc = {
        "_id": key_id,
        "institution_id": cmd.institution_id,
        "key_hash": event.key_hash,
        "prefix": prefix,
        "label": cmd.label,
        "issued_at": now,
        "issued_by": who.subject,
        "revoked_at": None,
    }
    stored = await reg.store.insert(API_KEYS, doc, [event])
    reg.notify()
    return stored, api_key


async def revoke_api_key(reg: Registry, cmd: c.RevokeApiKey, who: Principal) -> Doc:
    await load_institution(reg, cmd.institution_id)
    if not access.may_manage_institution(who, cmd.institution_id):
        raise await reg.deny(who, "api_key.revoke", cmd.institution_id)
    now = reg.now()
    event = ev.ApiKeyRevoked(institution_id=cmd.institution_id, key_id=cmd.key_id, revoked_at=now)
    stored = await reg.store.update(
        API_KEYS,
        {"_id": cmd.key_id, "institution_id": cmd.institution_id, "revoked_at": None},
        {"$set": {"revoked_at": now, "revoked_by": who.subject}},
        [event],
    )
    if stored is None:
        existing = await reg.store.find_one(
            API_KEYS, {"_id": cmd.key_id, "institution_id": cmd.institution_id}
        )
        if existing is None:
            raise UnknownApiKey()
        return existing  # already revoked: revoking again changes nothing
    reg.notify()
    return stored


async def resolve_api_key(reg: Registry, api_key: str) -> Principal | None:
    """The machine principal of a valid, unrevoked key (the `X-Api-Key` resolver)."""
    key_id = auth.key_id_of(api_key)
    if key_id is None:
        return None
    doc = await reg.store.get(API_KEYS, key_id)
    if doc is None or doc.get("revoked_at") is not None or not auth.api_key_matches(api_key, doc["key_hash"]):
        return None
    return Principal(
        subject=f"api-key:{key_id}", role=None, institution_id=doc["institution_id"], key_id=key_id
    )


# -- organisations -------------------------------------------------------------------------------
async def load_organization(reg: Registry, oid: str, field: str = "organization_id") -> Doc:
    doc = await reg.store.get(ORGANIZATIONS, oid)
    if doc is None:
        raise UnknownOrganization(field)
    return doc


async def _check_parent(
    reg: Registry, parent_id: str | None, institution_ids: list[str], self_id: str | None
) -> None:
    if parent_id is None:
        return
    if parent_id == self_id:
        raise Invalid("上级组织不能是自身 / an organisation cannot be its own parent", field="parent_id")
    parent = await load_organization(reg, parent_id, "parent_id")
    if parent.get("closed_at"):
        raise OrganizationClosed("parent_id")
    if parent["kind"] == OrganizationKind.PARTY_GROUP or not set(parent["institution_ids"]) & set(
        institution_ids
    ):
        raise Invalid(
            "上级组织不在同一机构或不能有下级 / the parent must be in the same institution and "
            "may not be a party group",
            field="parent_id",
        )


def _organization_event(doc: Doc) -> ev.OrganizationUpdated:
    return ev.OrganizationUpdated(
        organization_id=doc["_id"],
        institution_id=doc["institution_id"],
        institution_ids=doc["institution_ids"],
        name=doc["name"],
        parent_id=doc.get("parent_id"),
        has_party_groups=doc["has_party_groups"],
        secretary=contact_of(doc.get("secretary")),
    )


async def open_organization(reg: Registry, cmd: c.OpenOrganization, who: Principal) -> Doc:
    ids = list(dict.fromkeys(cmd.institution_ids))
    if not ids:
        raise Invalid("至少需要一个所属机构 / at least one institution", field="institution_ids")
    if len(ids) > 1 and cmd.kind is not OrganizationKind.JOINT_BRANCH:
        raise Invalid(
            "只有联合党支部可覆盖多个机构 / only a joint branch covers several institutions",
            field="institution_ids",
        )
    for iid in ids:
        await load_institution(reg, iid, "institution_ids")
    if not access.may_manage_organization(who, None, ids[:1]) or who.role is Role.BRANCH_SECRETARY:
        raise await reg.deny(who, "organization.open", ids[0], "institution_ids")
    await _check_parent(reg, cmd.parent_id, ids, None)
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
    event = ev.OrganizationOpened(
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
    try:
        stored = await reg.store.insert(ORGANIZATIONS, doc, [event])
    except DuplicateKey:
        raise AlreadyRegistered(
            "该机构已有同名党组织 / the institution already has an organisation of that name", field="name"
        ) from None
    reg.notify()
    return stored


async def update_organization(reg: Registry, cmd: c.UpdateOrganization, who: Principal) -> Doc:
    doc = await load_organization(reg, cmd.organization_id)
    if not access.may_manage_organization(who, doc["_id"], doc["institution_ids"]):
        raise await reg.deny(who, "organization.update", doc["_id"])
    if doc.get("closed_at"):
        raise OrganizationClosed()
    changes: Doc = {}
    if cmd.name is not None:
        changes["name"] = cmd.name.strip()
    if cmd.parent_id is not None:
        await _check_parent(reg, cmd.parent_id, doc["institution_ids"], doc["_id"])
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
    reg.notify()
    return stored


async def close_organization(reg: Registry, cmd: c.CloseOrganization, who: Principal) -> Doc:
    doc = await load_organization(reg, cmd.organization_id)
    if (
        not access.may_manage_organization(who, None, doc["institution_ids"])
        or who.role is Role.BRANCH_SECRETARY
    ):
        raise await reg.deny(who, "organization.close", doc["_id"])
    closed = cmd.closed_at or reg.today()
    if closed.isoformat() < doc["established_at"]:
        raise Invalid("撤销日期早于成立日期 / closed before it was established", field="closed_at")
    event = ev.OrganizationClosed(
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
    reg.notify()
    return stored


# -- members -------------------------------------------------------------------------------------
async def load_member(reg: Registry, mid: str) -> Doc:
    doc = await reg.store.get(MEMBERS, mid)
    if doc is None:
        raise UnknownMember()
    return doc


async def register_member(reg: Registry, cmd: c.RegisterMember, who: Principal) -> Doc:
    org = await load_organization(reg, cmd.organization_id)
    iid = cmd.institution_id or org["institution_id"]
    if iid not in org["institution_ids"]:
        raise Invalid(
            "该机构不在此组织覆盖范围内 / the organisation does not cover that institution",
            field="institution_id",
        )
    if not access.may_manage_member(who, org["_id"], iid):
        raise await reg.deny(who, "member.register", org["_id"], "organization_id")
    if org.get("closed_at"):
        raise OrganizationClosed()
    id_number = normalize_id_number(cmd.id_number)
    phone = normalize_phone(cmd.phone) if cmd.phone else None
    roles = check_cadre_roles(cmd.cadre_roles)
    joined = cmd.joined_at or reg.today()
    mid = new_id("mem")
    doc = {
        "_id": mid,
        "name": cmd.name.strip(),
        "organization_id": org["_id"],
        "institution_id": iid,
        "status": cmd.status.value,
        "joined_at": joined.isoformat(),
        "pocket": cmd.pocket,
        "cadre_roles": roles,
        "status_history": [{"status": cmd.status.value, "effective_at": joined.isoformat()}],
        "id_number_sealed": reg.vault.seal(id_number),
        "id_lookup": reg.vault.lookup_hash(id_number),
        "id_masked": mask_id_number(id_number),
        "phone_sealed": reg.vault.seal(phone) if phone else None,
        "phone_lookup": reg.vault.lookup_hash(phone) if phone else None,
        "phone_masked": mask_phone(phone) if phone else None,
        "left_at": None,
        "transfer": None,
        "transfers": [],
    }
    event = ev.MemberRegistered(
        member_id=mid,
        organization_id=org["_id"],
        institution_id=iid,
        status=cmd.status,
        joined_at=joined,
        pocket=cmd.pocket,
        cadre_roles=roles,
    )
    try:
        stored = await reg.store.insert(MEMBERS, doc, [event])
    except DuplicateKey:
        raise AlreadyRegistered(
            "该身份证号已登记 / a member with this ID number is registered", field="id_number"
        ) from None
    reg.notify()
    return stored


async def _managed_member(reg: Registry, mid: str, who: Principal, action: str) -> Doc:
    doc = await load_member(reg, mid)
    if not access.may_manage_member(who, doc["organization_id"], doc["institution_id"]):
        raise await reg.deny(who, action, mid, "member_id")
    if doc.get("left_at"):
        raise Conflict("该党员已离开 / the member has left", field="member_id")
    return doc


async def change_member(reg: Registry, cmd: c.ChangeMember, who: Principal) -> Doc:
    doc = await _managed_member(reg, cmd.member_id, who, "member.change")
    previous = ev.MemberStatus(doc["status"])
    status = cmd.status or previous
    check_pipeline_step(previous, status)
    effective = cmd.effective_at or reg.today()
    changes: Doc = {"status": status.value}
    if cmd.pocket is not None:
        changes["pocket"] = cmd.pocket
    if cmd.cadre_roles is not None:
        changes["cadre_roles"] = check_cadre_roles(cmd.cadre_roles)
    if cmd.phone is not None:
        phone = normalize_phone(cmd.phone)
        changes |= {
            "phone_sealed": reg.vault.seal(phone),
            "phone_lookup": reg.vault.lookup_hash(phone),
            "phone_masked": mask_phone(phone),
        }
    update: Doc = {"$set": changes}
    if status is not previous:
        update["$push"] = {"status_history": {"status": status.value, "effective_at": effective.isoformat()}}
    after = {**doc, **changes}
    announce = (
        status is not previous
        or after["pocket"] != doc["pocket"]
        or after["cadre_roles"] != doc["cadre_roles"]
    )
    events = (
        [
            ev.MemberStatusChanged(
                member_id=doc["_id"],
                organization_id=doc["organization_id"],
                institution_id=doc["institution_id"],
                status=status,
                previous_status=previous,
                effective_at=effective,
                pocket=after["pocket"],
                cadre_roles=after["cadre_roles"],
            )
        ]
        if announce
        else []
    )
    stored = await reg.store.update(MEMBERS, {"_id": doc["_id"], "version": doc["version"]}, update, events)
    if stored is None:
        raise ChangedConcurrently()
    reg.notify()
    return stored


async def member_leaves(reg: Registry, cmd: c.MemberLeaves, who: Principal) -> Doc:
    doc = await _managed_member(reg, cmd.member_id, who, "member.leave")
    if (doc.get("transfer") or {}).get("status") == TransferStatus.PENDING:
        raise Conflict("该党员有待处理的组织关系转接 / a transfer is pending", field="member_id")
    left = cmd.left_at or reg.today()
    event = ev.MemberLeft(
        member_id=doc["_id"],
        organization_id=doc["organization_id"],
        institution_id=doc["institution_id"],
        left_at=left,
        reason=cmd.reason,
    )
    stored = await reg.store.update(
        MEMBERS,
        {"_id": doc["_id"], "version": doc["version"]},
        {"$set": {"left_at": left.isoformat(), "left_reason": cmd.reason}},
        [event],
    )
    if stored is None:
        raise ChangedConcurrently()
    reg.notify()
    return stored


async def reveal_member_pii(reg: Registry, cmd: c.RevealMemberPii, who: Principal) -> dict[str, str | None]:
    """The unmasked ID number and phone, for the secretariat only; every read is audited first."""
    doc = await load_member(reg, cmd.member_id)
    if not access.may_read_unmasked(who):
        raise await reg.deny(who, "member.pii.read", cmd.member_id, "member_id")
    await reg.store.audit(
        {
            "at": reg.now(),
            "action": "member.pii.read",
            "target": doc["_id"],
            "outcome": "granted",
            "actor": who.subject,
            "role": who.role.value if who.role else None,
            "purpose": cmd.purpose,
            "fields": ["id_number", "phone"],
        }
    )
    return {
        "id_number": reg.vault.open(doc["id_number_sealed"]),
        "phone": reg.vault.open(doc["phone_sealed"]) if doc.get("phone_sealed") else None,
    }


# -- relation transfers --------------------------------------------------------------------------
async def request_transfer(reg: Registry, cmd: c.RequestTransfer, who: Principal) -> Doc:
    doc = await _managed_member(reg, cmd.member_id, who, "transfer.request")
    if (doc.get("transfer") or {}).get("status") == TransferStatus.PENDING:
        raise Conflict("已有待处理的组织关系转接 / a transfer is already pending", field="member_id")
    target = await load_organization(reg, cmd.to_organization_id, "to_organization_id")
    if target.get("closed_at"):
        raise OrganizationClosed("to_organization_id")
    transfer = Transfer.request(
        transfer_id=new_id("trf"),
        member_id=doc["_id"],
        from_organization_id=doc["organization_id"],
        from_institution_id=doc["institution_id"],
        to_organization_id=target["_id"],
        to_institution_id=target["institution_id"],
        now=reg.now(),
        today=reg.today(),
        deadline_days=reg.settings.transfer_deadline_days,
    )
    event = ev.TransferRequested(
        transfer_id=transfer.id,
        member_id=doc["_id"],
        institution_id=transfer.from_institution_id,
        from_organization_id=transfer.from_organization_id,
        to_organization_id=transfer.to_organization_id,
        to_institution_id=transfer.to_institution_id,
        requested_at=transfer.requested_at,
        deadline=transfer.deadline,
    )
    stored = await reg.store.update(
        MEMBERS,
        {"_id": doc["_id"], "version": doc["version"]},
        {"$set": {"transfer": transfer.to_dict()}},
        [event],
    )
    if stored is None:
        raise ChangedConcurrently()
    reg.notify()
    return stored


async def _pending_for_decision(
    reg: Registry, transfer_id: str, who: Principal, action: str
) -> tuple[Doc, Transfer]:
    doc = await reg.store.find_one(MEMBERS, {"transfer.id": transfer_id})
    if doc is None:
        raise UnknownTransfer()
    transfer = Transfer.from_dict(doc["transfer"])
    if not access.may_decide_transfer(who, transfer.to_organization_id, transfer.to_institution_id):
        raise await reg.deny(who, action, transfer_id, "transfer_id")
    return doc, transfer


async def accept_transfer(reg: Registry, cmd: c.AcceptTransfer, who: Principal) -> Doc:
    doc, transfer = await _pending_for_decision(reg, cmd.transfer_id, who, "transfer.accept")
    accepted = transfer.accept(reg.now())
    target = await load_organization(reg, transfer.to_organization_id, "to_organization_id")
    if target.get("closed_at"):
        raise OrganizationClosed("to_organization_id")
    event = ev.TransferAccepted(
        transfer_id=transfer.id,
        member_id=doc["_id"],
        institution_id=transfer.from_institution_id,
        from_organization_id=transfer.from_organization_id,
        to_organization_id=transfer.to_organization_id,
        to_institution_id=transfer.to_institution_id,
        effective_at=reg.today(),
        status=ev.MemberStatus(doc["status"]),
    )
    stored = await reg.store.update(
        MEMBERS,
        {"_id": doc["_id"], "transfer.id": transfer.id, "transfer.status": TransferStatus.PENDING.value},
        {
            "$set": {
                "transfer": accepted.to_dict(),
                "organization_id": transfer.to_organization_id,
                "institution_id": transfer.to_institution_id,
                "pocket": False,
            },
            "$push": {"transfers": accepted.to_dict()},
        },
        [event],
    )
    if stored is None:
        raise ChangedConcurrently()
    reg.notify()
    return stored


async def refuse_transfer(reg: Registry, cmd: c.RefuseTransfer, who: Principal) -> Doc:
    doc, transfer = await _pending_for_decision(reg, cmd.transfer_id, who, "transfer.refuse")
    refused = transfer.refuse(reg.now(), cmd.reason)
    event = ev.TransferRefused(
        transfer_id=transfer.id,
        member_id=doc["_id"],
        institution_id=transfer.from_institution_id,
        from_organization_id=transfer.from_organization_id,
        to_organization_id=transfer.to_organization_id,
        reason=cmd.reason,
    )
    stored = await reg.store.update(
        MEMBERS,
        {"_id": doc["_id"], "transfer.id": transfer.id, "transfer.status": TransferStatus.PENDING.value},
        {"$set": {"transfer": refused.to_dict()}, "$push": {"transfers": refused.to_dict()}},
        [event],
    )
    if stored is None:
        raise ChangedConcurrently()
    reg.notify()
    return stored


async def scan_overdue_transfers(reg: Registry, cmd: c.ScanOverdueTransfers, who: Principal) -> int:
    """Announce every transfer pending past its deadline, once each (the flag is set in the same
    operation that records the event, so a second scan — or a second replica — finds nothing)."""
    if not who.is_secretariat:
        raise Forbidden("需要秘书处角色 / requires the secretariat role")
    today = reg.today()
    found = await reg.store.find(
        MEMBERS,
        {
            "transfer.status": TransferStatus.PENDING.value,
            "transfer.deadline": {"$lt": today.isoformat()},
            "transfer.overdue_notified": False,
        },
    )
    announced = 0
    for doc in found:
        transfer = Transfer.from_dict(doc["transfer"])
        if not transfer.needs_overdue_notice(today):
            continue
        event = ev.TransferOverdue(
            transfer_id=transfer.id,
            member_id=doc["_id"],
            institution_id=transfer.from_institution_id,
            from_organization_id=transfer.from_organization_id,
            to_organization_id=transfer.to_organization_id,
            to_institution_id=transfer.to_institution_id,
            requested_at=transfer.requested_at,
            deadline=transfer.deadline,
            days_overdue=transfer.days_overdue(today),
        )
        stored = await reg.store.update(
            MEMBERS,
            {
                "_id": doc["_id"],
                "transfer.id": transfer.id,
                "transfer.status": TransferStatus.PENDING.value,
                "transfer.overdue_notified": False,
            },
            {"$set": {"transfer.overdue_notified": True}},
            [event],
        )
        announced += stored is not None
    if announced:
        reg.notify()
    return announced


COMMAND_HANDLERS: dict[type, Callable[[Registry, Any, Principal], Awaitable[Any]]] = {
    c.RegisterInstitution: register_institution,
    c.ReclassifyInstitution: reclassify_institution,
    c.IssueApiKey: issue_api_key,
    c.RevokeApiKey: revoke_api_key,
    c.OpenOrganization: open_organization,
    c.UpdateOrganization: update_organization,
    c.CloseOrganization: close_organization,
    c.RegisterMember: register_member,
    c.ChangeMember: change_member,
    c.MemberLeaves: member_leaves,
    c.RevealMemberPii: reveal_member_pii,
    c.RequestTransfer: request_transfer,
    c.AcceptTransfer: accept_transfer,
    c.RefuseTransfer: refuse_transfer,
    c.ScanOverdueTransfers: scan_overdue_transfers,
}


async def handle(reg: Registry, cmd: object, who: Principal) -> Any:
    """Carry out `cmd` for `who` (the one entry point the routes, the importer and the scheduler use)."""
    return await COMMAND_HANDLERS[type(cmd)](reg, cmd, who)
