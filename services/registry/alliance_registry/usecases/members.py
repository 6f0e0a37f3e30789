"""Members, their personal data, and the relation-transfer handshake."""

from __future__ import annotations

from typing import Any, TypeVar

from alliance_shared.auth import Principal
from alliance_shared.contracts import registry as registry_events
from alliance_shared.contracts.vocabulary import MemberStatus
from alliance_shared.errors import Conflict, Forbidden, Invalid
from alliance_shared.jobs import Progress
from alliance_shared.pii import mask_id_number, mask_phone

from ..adapters.store import MEMBERS, DuplicateKey
from ..domain import access, commands
from ..domain.errors import (
    AlreadyRegistered,
    OrganizationClosed,
    UnknownMember,
    UnknownTransfer,
)
from ..domain.identifiers import normalize_id_number, normalize_phone
from ..domain.members import check_cadre_roles, check_pipeline_step
from ..domain.transfers import Transfer, TransferStatus
from .context import ChangedConcurrently, RegistryUnit, new_id
from .organizations import load_organization

Doc = dict[str, Any]


# -- members -------------------------------------------------------------------------------------
async def load_member(reg: RegistryUnit, mid: str) -> Doc:
    doc = await reg.store.get(MEMBERS, mid)
    if doc is None:
        raise UnknownMember()
    return doc


async def register_member(reg: RegistryUnit, cmd: commands.RegisterMember, who: Principal) -> Doc:
    org = await load_organization(reg, cmd.organization_id)
    iid = cmd.institution_id or org["institution_id"]
    if iid in org["institution_ids"] and not access.may_manage_member(who, org["_id"], iid):
        raise await reg.deny(who, "member.register", org["_id"], "organization_id")
    doc, event = new_member(reg, org, cmd)
    try:
        stored = await reg.store.insert(MEMBERS, doc, [event])
    except DuplicateKey:
        raise AlreadyRegistered(
            "该身份证号已登记 / a member with this ID number is registered", field="id_number"
        ) from None
    return stored


def new_member(
    reg: RegistryUnit, org: Doc, cmd: commands.RegisterMember, *, id_lookup: str | None = None
) -> tuple[Doc, registry_events.MemberRegistered]:
    """The member's document and the event announcing it, for `cmd` in `org` (loaded): the checks
    every way of registering a member shares (the API and the roster import). `id_lookup`: the
    roster import has checked `cmd.id_number` already and hashed it (it looks the chunk's up)."""
    iid = cmd.institution_id or org["institution_id"]
    if iid not in org["institution_ids"]:
        raise Invalid(
            "该机构不在此组织覆盖范围内 / the organisation does not cover that institution",
            field="institution_id",
        )
    if org.get("closed_at"):
        raise OrganizationClosed()
    id_number = cmd.id_number if id_lookup else normalize_id_number(cmd.id_number, today=reg.today())
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
        "id_lookup": id_lookup or reg.vault.lookup_hash(id_number),
        "id_masked": mask_id_number(id_number),
        "phone_sealed": reg.vault.seal(phone) if phone else None,
        "phone_lookup": reg.vault.lookup_hash(phone) if phone else None,
        "phone_masked": mask_phone(phone) if phone else None,
        "left_at": None,
        "transfer": None,
        "transfers": [],
    }
    event = registry_events.MemberRegistered(
        member_id=mid,
        organization_id=org["_id"],
        institution_id=iid,
        status=cmd.status,
        joined_at=joined,
        pocket=cmd.pocket,
        cadre_roles=roles,
    )
    return doc, event


async def _managed_member(reg: RegistryUnit, mid: str, who: Principal, action: str) -> Doc:
    doc = await load_member(reg, mid)
    if not access.may_manage_member(who, doc["organization_id"], doc["institution_id"]):
        raise await reg.deny(who, action, mid, "member_id")
    if doc.get("left_at"):
        raise Conflict("该党员已离开 / the member has left", field="member_id")
    return doc


async def change_member(reg: RegistryUnit, cmd: commands.ChangeMember, who: Principal) -> Doc:
    doc = await _managed_member(reg, cmd.member_id, who, "member.change")
    previous = MemberStatus(doc["status"])
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
            registry_events.MemberStatusChanged(
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
    return stored


async def member_leaves(reg: RegistryUnit, cmd: commands.MemberLeaves, who: Principal) -> Doc:
    doc = await _managed_member(reg, cmd.member_id, who, "member.leave")
    if (doc.get("transfer") or {}).get("status") == TransferStatus.PENDING:
        raise Conflict("该党员有待处理的组织关系转接 / a transfer is pending", field="member_id")
    left = cmd.left_at or reg.today()
    event = registry_events.MemberLeft(
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
    return stored


async def reveal_member_pii(reg: RegistryUnit, cmd: commands.RevealMemberPii, who: Principal) -> dict[str, str | None]:
    """The unmasked ID number and phone, for the secretariat only; every read is audited first."""
    doc = await load_member(reg, cmd.member_id)
    if not access.may_read_unmasked(who):
        raise await reg.deny(who, "member.pii.read", cmd.member_id, "member_id")
    await reg.audit(who, "member.pii.read", "member", doc["_id"], institution_id=doc.get("institution_id"),
                    purpose=cmd.purpose, fields=["id_number", "phone"])
    return {
        "id_number": reg.vault.open(doc["id_number_sealed"]),
        "phone": reg.vault.open(doc["phone_sealed"]) if doc.get("phone_sealed") else None,
    }


# -- relation transfers --------------------------------------------------------------------------
TransferEvent = TypeVar(
    "TransferEvent", registry_events.TransferRequested, registry_events.TransferAccepted,
    registry_events.TransferRefused, registry_events.TransferOverdue,
)


def transfer_event(kind: type[TransferEvent], transfer: Transfer, member_id: str, **more: Any) -> TransferEvent:
    """A transfer's event: the transfer's own fields that the event declares, and `more`."""
    own = {
        "transfer_id": transfer.id, "member_id": member_id, "institution_id": transfer.from_institution_id,
        "from_organization_id": transfer.from_organization_id, "to_organization_id": transfer.to_organization_id,
        "to_institution_id": transfer.to_institution_id, "requested_at": transfer.requested_at,
        "deadline": transfer.deadline,
    }  # fmt: skip
    return kind(**{k: v for k, v in own.items() if k in kind.model_fields}, **more)


async def request_transfer(reg: RegistryUnit, cmd: commands.RequestTransfer, who: Principal) -> Doc:
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
    event = transfer_event(registry_events.TransferRequested, transfer, doc["_id"])
    stored = await reg.store.update(
        MEMBERS,
        {"_id": doc["_id"], "version": doc["version"]},
        {"$set": {"transfer": transfer.to_dict()}},
        [event],
    )
    if stored is None:
        raise ChangedConcurrently()
    return stored


async def _pending_for_decision(
    reg: RegistryUnit, transfer_id: str, who: Principal, action: str
) -> tuple[Doc, Transfer]:
    doc = await reg.store.find_one(MEMBERS, {"transfer.id": transfer_id})
    if doc is None:
        raise UnknownTransfer()
    transfer = Transfer.from_dict(doc["transfer"])
    if not access.may_decide_transfer(who, transfer.to_organization_id, transfer.to_institution_id):
        raise await reg.deny(who, action, transfer_id, "transfer_id")
    return doc, transfer


async def accept_transfer(reg: RegistryUnit, cmd: commands.AcceptTransfer, who: Principal) -> Doc:
    doc, transfer = await _pending_for_decision(reg, cmd.transfer_id, who, "transfer.accept")
    accepted = transfer.accept(reg.now())
    target = await load_organization(reg, transfer.to_organization_id, "to_organization_id")
    if target.get("closed_at"):
        raise OrganizationClosed("to_organization_id")
    event = transfer_event(registry_events.TransferAccepted, transfer, doc["_id"], effective_at=reg.today(),
                      status=MemberStatus(doc["status"]))
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
    await _audit_decision(reg, who, "transfer.accepted", transfer, doc["_id"])
    return stored


async def _audit_decision(reg: RegistryUnit, who: Principal, action: str, transfer: Transfer, member_id: str) -> None:
    """The receiving side's decision, audited under its institution (never the refusal's reason: it may name people)."""
    await reg.audit(who, action, "transfer", transfer.id, institution_id=transfer.to_institution_id,
                    member_id=member_id, from_institution_id=transfer.from_institution_id,
                    to_organization_id=transfer.to_organization_id)


async def refuse_transfer(reg: RegistryUnit, cmd: commands.RefuseTransfer, who: Principal) -> Doc:
    doc, transfer = await _pending_for_decision(reg, cmd.transfer_id, who, "transfer.refuse")
    refused = transfer.refuse(reg.now(), cmd.reason)
    event = transfer_event(registry_events.TransferRefused, transfer, doc["_id"], reason=cmd.reason)
    stored = await reg.store.update(
        MEMBERS,
        {"_id": doc["_id"], "transfer.id": transfer.id, "transfer.status": TransferStatus.PENDING.value},
        {"$set": {"transfer": refused.to_dict()}, "$push": {"transfers": refused.to_dict()}},
        [event],
    )
    if stored is None:
        raise ChangedConcurrently()
    await _audit_decision(reg, who, "transfer.refused", transfer, doc["_id"])
    return stored


async def scan_overdue_transfers(reg: RegistryUnit, cmd: commands.ScanOverdueTransfers, who: Principal) -> int:
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
    progress = cmd.progress or Progress()
    progress.total = len(found)
    announced = 0
    for doc in found:
        progress.done += 1
        transfer = Transfer.from_dict(doc["transfer"])
        if not transfer.needs_overdue_notice(today):
            continue
        overdue = transfer.days_overdue(today)
        event = transfer_event(registry_events.TransferOverdue, transfer, doc["_id"], days_overdue=overdue)
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
    return announced
