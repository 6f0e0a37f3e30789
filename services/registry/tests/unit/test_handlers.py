"""Each of the registry's commands through its table (`handlers.handle`) over an in-memory store
(`fakes.py`): what it stores, the event it stores with the change, who may do it, and what it
refuses — no Kafka, no store (cosmicpython's tests/unit/test_handlers.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alliance_registry.adapters.store import API_KEYS, AUDIT, MEMBERS
from alliance_registry.domain import commands
from alliance_registry.domain.errors import AlreadyRegistered, ForeignTenant, OrganizationClosed, TooManyActiveKeys
from alliance_registry.handlers import COMMAND_HANDLERS, handle
from alliance_registry.settings import RegistrySettings
from alliance_registry.usecases.context import RegistryUnit
from alliance_shared.auth import Principal
from alliance_shared.clock import FixedClock
from alliance_shared.contracts import registry as events
from alliance_shared.contracts.vocabulary import (
    MemberStatus,
    OrganizationKind,
    Ownership,
    PartyOrgStatus,
    ReportingLevel,
    Role,
)
from alliance_shared.errors import Conflict
from alliance_shared.pii import PiiVault

from .fakes import FakeRegistryStore

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
SECRETARIAT = Principal("sec-1", Role.SECRETARIAT)


def registry(now: datetime = NOW) -> tuple[RegistryUnit, FakeRegistryStore]:
    settings = RegistrySettings(environment="test")
    store = FakeRegistryStore()
    return RegistryUnit(store, PiiVault(settings.pii_encryption_key), FixedClock(now), settings), store  # type: ignore[arg-type]


def admin_of(institution_id: str) -> Principal:
    return Principal(f"admin-{institution_id}", Role.INSTITUTION_ADMIN, institution_id=institution_id)


async def institution(reg: RegistryUnit, make: Any, name: str = "甲银行") -> dict[str, Any]:
    return await handle(reg, commands.RegisterInstitution(
        uscc=make.uscc(), name=name, ownership=Ownership.STATE_OWNED,
        party_org_status=PartyOrgStatus.ESTABLISHED_COMPLETE, reporting_level=ReportingLevel.L2,
        effective_from=date(2026, 1, 1),
    ), SECRETARIAT)  # fmt: skip


async def branch(reg: RegistryUnit, institution_ids: list[str], name: str = "第一党支部") -> dict[str, Any]:
    return await handle(reg, commands.OpenOrganization(
        name=name, kind=OrganizationKind.BRANCH, institution_ids=institution_ids, established_at=date(2021, 7, 1),
    ), admin_of(institution_ids[0]))  # fmt: skip


async def member(reg: RegistryUnit, make: Any, org: dict[str, Any]) -> dict[str, Any]:
    return await handle(reg, commands.RegisterMember(
        organization_id=org["_id"], name="张三", id_number=make.id_number(), status=MemberStatus.FULL,
        phone=make.phone(), joined_at=date(2020, 5, 1),
    ), admin_of(org["institution_id"]))  # fmt: skip


# -- institutions and their keys ---------------------------------------------------------------
async def test_a_registered_institution_is_stored_with_its_event_and_its_uscc_is_taken_once(make: Any) -> None:
    reg, store = registry()
    first = await institution(reg, make)
    (event,) = store.announced(events.InstitutionRegistered)
    assert (event.institution_id, event.name, event.effective_from) == (first["_id"], "甲银行", date(2026, 1, 1))
    with pytest.raises(AlreadyRegistered) as refused:
        await handle(reg, commands.RegisterInstitution(
            uscc=first["uscc"], name="乙银行", ownership=Ownership.PRIVATE,
            party_org_status=PartyOrgStatus.ESTABLISHED_COMPLETE, reporting_level=ReportingLevel.L1,
        ), SECRETARIAT)  # fmt: skip
    assert refused.value.field == "uscc"


async def test_only_the_secretariat_registers_an_institution_and_a_refusal_is_audited(make: Any) -> None:
    reg, store = registry()
    with pytest.raises(ForeignTenant):
        await handle(reg, commands.RegisterInstitution(
            uscc=make.uscc(), name="丙", ownership=Ownership.PRIVATE,
            party_org_status=PartyOrgStatus.ESTABLISHED_COMPLETE, reporting_level=ReportingLevel.L1,
        ), admin_of("inst-x"))  # fmt: skip
    assert [a["outcome"] for a in store.collections[AUDIT].values()] == ["denied"]
    assert store.announced(events.InstitutionRegistered) == []


async def test_a_reclassified_institution_announces_its_new_class_from_the_day_given(make: Any) -> None:
    reg, store = registry()
    inst = await institution(reg, make)
    await handle(reg, commands.ReclassifyInstitution(
        inst["_id"], reporting_level=ReportingLevel.L3, effective_from=date(2026, 10, 1),
    ), SECRETARIAT)  # fmt: skip
    (event,) = store.announced(events.InstitutionReclassified)
    assert (event.classification.reporting_level, event.previous.reporting_level) == (
        ReportingLevel.L3, ReportingLevel.L2
    )
    assert event.effective_from == date(2026, 10, 1)


async def test_an_api_key_is_shown_once_stored_as_a_hash_and_capped_per_institution(make: Any) -> None:
    reg, store = registry()
    inst = await institution(reg, make)
    doc, key = await handle(reg, commands.IssueApiKey(inst["_id"], "核心系统"), admin_of(inst["_id"]))
    assert key.startswith(doc["prefix"]) and key not in str(store.collections[API_KEYS])
    for n in range(reg.settings.max_active_api_keys - 1):
        await handle(reg, commands.IssueApiKey(inst["_id"], f"key {n}"), admin_of(inst["_id"]))
    with pytest.raises(TooManyActiveKeys):
        await handle(reg, commands.IssueApiKey(inst["_id"], "one too many"), admin_of(inst["_id"]))
    await handle(reg, commands.RevokeApiKey(inst["_id"], doc["_id"]), admin_of(inst["_id"]))
    assert [e.key_id for e in store.announced(events.ApiKeyRevoked)] == [doc["_id"]]
    assert len(store.announced(events.ApiKeyIssued)) == reg.settings.max_active_api_keys


async def test_another_institutions_admin_may_not_issue_its_keys(make: Any) -> None:
    reg, store = registry()
    inst = await institution(reg, make)
    with pytest.raises(ForeignTenant):
        await handle(reg, commands.IssueApiKey(inst["_id"], "x"), admin_of("inst-other"))
    assert store.announced(events.ApiKeyIssued) == []


# -- organisations -----------------------------------------------------------------------------
async def test_an_organisation_is_opened_updated_and_closed_each_with_its_event(make: Any) -> None:
    reg, store = registry()
    inst = await institution(reg, make)
    org = await branch(reg, [inst["_id"]])
    with pytest.raises(AlreadyRegistered):
        await branch(reg, [inst["_id"]])  # the same name in the same institution
    await handle(reg, commands.UpdateOrganization(org["_id"], name="第二党支部"), admin_of(inst["_id"]))
    await handle(reg, commands.CloseOrganization(org["_id"], date(2026, 9, 30)), admin_of(inst["_id"]))
    assert [type(e).__name__ for e in store.events if isinstance(e, events.RegistryEvent)][-3:] == [
        "OrganizationOpened", "OrganizationUpdated", "OrganizationClosed"
    ]
    assert store.announced(events.OrganizationUpdated)[0].name == "第二党支部"
    with pytest.raises(OrganizationClosed):
        await handle(reg, commands.CloseOrganization(org["_id"]), admin_of(inst["_id"]))


async def test_an_organisation_cannot_close_before_it_was_established(make: Any) -> None:
    reg, _ = registry()
    org = await branch(reg, [(await institution(reg, make))["_id"]])
    with pytest.raises(Exception) as refused:
        await handle(reg, commands.CloseOrganization(org["_id"], date(2020, 1, 1)), SECRETARIAT)
    assert getattr(refused.value, "field", None) == "closed_at"


# -- members -----------------------------------------------------------------------------------
async def test_a_member_is_stored_sealed_and_announced_without_personal_data(make: Any) -> None:
    reg, store = registry()
    org = await branch(reg, [(await institution(reg, make))["_id"]])
    doc = await member(reg, make, org)
    stored = store.collections[MEMBERS][doc["_id"]]
    (event,) = store.announced(events.MemberRegistered)
    assert stored["id_masked"] != "" and "id_number" not in stored and stored["id_number_sealed"]
    assert "张三" not in event.model_dump_json() and event.organization_id == org["_id"]


async def test_one_id_number_is_one_member(make: Any) -> None:
    reg, _ = registry()
    org = await branch(reg, [(await institution(reg, make))["_id"]])
    first = await member(reg, make, org)
    number = reg.vault.open(first["id_number_sealed"])
    with pytest.raises(AlreadyRegistered):
        await handle(reg, commands.RegisterMember(
            organization_id=org["_id"], name="李四", id_number=number, status=MemberStatus.FULL,
        ), admin_of(org["institution_id"]))  # fmt: skip


async def test_a_members_status_moves_forward_and_is_announced(make: Any) -> None:
    reg, store = registry()
    org = await branch(reg, [(await institution(reg, make))["_id"]])
    doc = await handle(reg, commands.RegisterMember(
        organization_id=org["_id"], name="王五", id_number=make.id_number(), status=MemberStatus.PROBATIONARY,
    ), admin_of(org["institution_id"]))  # fmt: skip
    await handle(reg, commands.ChangeMember(doc["_id"], status=MemberStatus.FULL), admin_of(org["institution_id"]))
    (event,) = store.announced(events.MemberStatusChanged)
    assert (event.previous_status, event.status) == (MemberStatus.PROBATIONARY, MemberStatus.FULL)


async def test_a_member_who_left_is_announced_and_changes_no_more(make: Any) -> None:
    reg, store = registry()
    org = await branch(reg, [(await institution(reg, make))["_id"]])
    doc = await member(reg, make, org)
    await handle(reg, commands.MemberLeaves(doc["_id"], date(2026, 11, 1), "退休"), admin_of(org["institution_id"]))
    assert store.announced(events.MemberLeft)[0].left_at == date(2026, 11, 1)
    with pytest.raises(Conflict):
        await handle(reg, commands.ChangeMember(doc["_id"], pocket=True), admin_of(org["institution_id"]))


async def test_personal_data_is_revealed_to_the_secretariat_only_and_every_read_is_audited(make: Any) -> None:
    reg, store = registry()
    org = await branch(reg, [(await institution(reg, make))["_id"]])
    doc = await member(reg, make, org)
    values = await handle(reg, commands.RevealMemberPii(doc["_id"], "核实转接"), SECRETARIAT)
    assert values["id_number"] == reg.vault.open(doc["id_number_sealed"])
    with pytest.raises(ForeignTenant):
        await handle(reg, commands.RevealMemberPii(doc["_id"], "好奇"), admin_of(org["institution_id"]))
    assert sorted(a["outcome"] for a in store.collections[AUDIT].values() if a["action"] == "member.pii.read") == [
        "denied", "done"
    ]


# -- relation transfers ------------------------------------------------------------------------
async def test_a_transfer_is_requested_then_accepted_by_the_receiving_institution(make: Any) -> None:
    reg, store = registry()
    a, b = await institution(reg, make, "甲"), await institution(reg, make, "乙")
    source, target = await branch(reg, [a["_id"]]), await branch(reg, [b["_id"]], "乙支部")
    doc = await member(reg, make, source)
    requested = await handle(reg, commands.RequestTransfer(doc["_id"], target["_id"]), admin_of(a["_id"]))
    transfer_id = requested["transfer"]["id"]
    with pytest.raises(ForeignTenant):
        await handle(reg, commands.AcceptTransfer(transfer_id), admin_of(a["_id"]))  # not the receiving side
    moved = await handle(reg, commands.AcceptTransfer(transfer_id), admin_of(b["_id"]))
    assert (moved["organization_id"], moved["institution_id"]) == (target["_id"], b["_id"])
    (accepted,) = store.announced(events.TransferAccepted)
    assert (accepted.institution_id, accepted.to_institution_id, accepted.effective_at) == (
        a["_id"], b["_id"], date(2026, 11, 16)
    )
    assert store.announced(events.TransferRequested)[0].deadline == date(2026, 11, 16) + timedelta(
        days=reg.settings.transfer_deadline_days
    )


async def test_a_refused_transfer_leaves_the_member_where_it_was(make: Any) -> None:
    reg, store = registry()
    a, b = await institution(reg, make, "甲"), await institution(reg, make, "乙")
    source, target = await branch(reg, [a["_id"]]), await branch(reg, [b["_id"]], "乙支部")
    doc = await member(reg, make, source)
    requested = await handle(reg, commands.RequestTransfer(doc["_id"], target["_id"]), admin_of(a["_id"]))
    kept = await handle(reg, commands.RefuseTransfer(requested["transfer"]["id"], "不符合条件"), admin_of(b["_id"]))
    assert kept["organization_id"] == source["_id"] and kept["transfer"]["status"] == "refused"
    assert store.announced(events.TransferRefused)[0].reason == "不符合条件"


async def test_an_overdue_transfer_is_announced_once_by_the_scan(make: Any) -> None:
    reg, store = registry()
    a, b = await institution(reg, make, "甲"), await institution(reg, make, "乙")
    source, target = await branch(reg, [a["_id"]]), await branch(reg, [b["_id"]], "乙支部")
    await handle(reg, commands.RequestTransfer((await member(reg, make, source))["_id"], target["_id"]),
                 admin_of(a["_id"]))
    later, _ = registry(NOW + timedelta(days=reg.settings.transfer_deadline_days + 2))
    later.store = store
    assert await handle(later, commands.ScanOverdueTransfers(), SECRETARIAT) == 1
    assert await handle(later, commands.ScanOverdueTransfers(), SECRETARIAT) == 0  # once
    assert store.announced(events.TransferOverdue)[0].days_overdue == 2


def test_every_command_has_a_handler_and_a_test_here() -> None:
    tested = {
        commands.RegisterInstitution, commands.ReclassifyInstitution, commands.IssueApiKey, commands.RevokeApiKey,
        commands.OpenOrganization, commands.UpdateOrganization, commands.CloseOrganization, commands.RegisterMember,
        commands.ChangeMember, commands.MemberLeaves, commands.RevealMemberPii, commands.RequestTransfer,
        commands.AcceptTransfer, commands.RefuseTransfer, commands.ScanOverdueTransfers,
    }  # fmt: skip
    assert set(COMMAND_HANDLERS) == tested
