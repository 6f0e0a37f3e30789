"""Each of activity's event handlers over in-memory adapters (`fakes.py`): registry events become
the projection the assessor reads (and key events reach the process's key cache at once), and
evaluation's period events become the lock every report passes — no Kafka, no store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alliance_activity.adapters.keys import ApiKeys
from alliance_activity.domain.model import Posting
from alliance_activity.handlers import KEY_HANDLERS, REGISTRY_HANDLERS, RegistryCopy
from alliance_activity.usecases.period_gate import PERIOD_HANDLERS
from alliance_shared.contracts import evaluation
from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.vocabulary import MemberStatus, OrganizationKind
from alliance_shared.kafka.consumer import with_context

from .fakes import FakeKeyReads, FakePeriodLockStore, FakeRegistryProjection

pytestmark = pytest.mark.unit

AT = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)
CLASSIFICATION = reg.InstitutionClassification(
    ownership="private", party_org_status="established_complete", reporting_level="L3"
)


def copy() -> tuple[RegistryCopy, FakeRegistryProjection, ApiKeys]:
    projection = FakeRegistryProjection()
    keys = ApiKeys(FakeKeyReads(), max_age_s=5.0)
    return RegistryCopy(projection, keys), projection, keys  # type: ignore[arg-type]


async def handle(table: Any, context: Any, payload: EventPayload) -> None:
    await with_context(table, context)[type(payload)](payload, envelope(payload, source="/test"))


async def test_a_registered_institution_is_projected_with_its_reporting_level() -> None:
    to, projection, _ = copy()
    await handle(REGISTRY_HANDLERS, to, reg.InstitutionRegistered(
        institution_id="inst-a", uscc="91440300MA5XXXXX0A", name="乙科技金融", classification=CLASSIFICATION,
        effective_from=date(2026, 1, 5),
    ))  # fmt: skip
    assert projection.docs["institutions"]["inst-a"] == {
        "name": "乙科技金融", "reporting_level": "L3", "ownership": "private", "alliance_role": "member",
        "party_org_status": "established_complete",
    }  # fmt: skip


async def test_a_reclassified_institution_keeps_its_name_and_takes_its_new_level() -> None:
    to, projection, _ = copy()
    projection.put_institution("inst-a", {"name": "乙科技金融", "reporting_level": "L3"})
    lower = reg.InstitutionClassification(ownership="private", party_org_status="established_complete",
                                          reporting_level="L1")
    await handle(REGISTRY_HANDLERS, to, reg.InstitutionReclassified(
        institution_id="inst-a", name="乙科技金融", classification=lower, previous=CLASSIFICATION,
        effective_from=date(2026, 10, 1),
    ))  # fmt: skip
    assert projection.docs["institutions"]["inst-a"]["reporting_level"] == "L1"
    assert projection.docs["institutions"]["inst-a"]["name"] == "乙科技金融"


async def test_an_organisation_opened_updated_and_closed_is_projected_in_that_order() -> None:
    to, projection, _ = copy()
    await handle(REGISTRY_HANDLERS, to, reg.OrganizationOpened(
        organization_id="org-1", institution_id="inst-a", institution_ids=["inst-a"], name="第一党支部",
        kind=OrganizationKind.BRANCH, established_at=date(2021, 7, 1),
    ))  # fmt: skip
    await handle(REGISTRY_HANDLERS, to, reg.OrganizationUpdated(
        organization_id="org-1", institution_id="inst-a", institution_ids=["inst-a", "inst-b"], name="联合党支部",
    ))  # fmt: skip
    await handle(REGISTRY_HANDLERS, to, reg.OrganizationClosed(
        organization_id="org-1", institution_id="inst-a", closed_at=date(2026, 9, 30)
    ))  # fmt: skip
    org = projection.docs["organizations"]["org-1"]
    assert (org["name"], org["institution_ids"], org["established_at"], org["closed_at"]) == (
        "联合党支部", ["inst-a", "inst-b"], "2021-07-01", "2026-09-30"
    )


async def test_a_members_life_on_the_roll_is_projected_with_each_posting() -> None:
    to, projection, _ = copy()
    await handle(REGISTRY_HANDLERS, to, reg.MemberRegistered(
        member_id="m-1", organization_id="org-1", institution_id="inst-a", status=MemberStatus.PROBATIONARY,
        joined_at=date(2025, 6, 1),
    ))  # fmt: skip
    await handle(REGISTRY_HANDLERS, to, reg.MemberStatusChanged(
        member_id="m-1", organization_id="org-1", institution_id="inst-a", status=MemberStatus.FULL,
        previous_status=MemberStatus.PROBATIONARY, effective_at=date(2026, 6, 1),
    ))  # fmt: skip
    await handle(REGISTRY_HANDLERS, to, reg.TransferAccepted(
        transfer_id="t-1", member_id="m-1", institution_id="inst-a", from_organization_id="org-1",
        to_organization_id="org-9", to_institution_id="inst-b", effective_at=date(2026, 10, 8),
        status=MemberStatus.FULL,
    ))  # fmt: skip
    await handle(REGISTRY_HANDLERS, to, reg.MemberLeft(
        member_id="m-1", organization_id="org-9", institution_id="inst-b", left_at=date(2026, 11, 1)
    ))  # fmt: skip
    member = projection.docs["members"]["m-1"]
    assert (member["organization_id"], member["institution_id"], member["status"], member["left_at"]) == (
        "org-9", "inst-b", "full", "2026-11-01"
    )
    assert projection.postings["m-1"] == [
        Posting("org-1", "inst-a", date(2025, 6, 1)), Posting("org-9", "inst-b", date(2026, 10, 8))
    ]


async def test_an_issued_key_works_at_once_and_a_revoked_one_is_refused_at_once() -> None:
    to, projection, keys = copy()
    issued = reg.ApiKeyIssued(institution_id="inst-a", key_id="k-1", key_hash="h", sealed_key="s", prefix="fpba_k1",
                              issued_at=AT)
    await handle(REGISTRY_HANDLERS, to, issued)
    assert (await keys.key("k-1") or {}).get("institution_id") == "inst-a"  # before the projection is written
    await handle(REGISTRY_HANDLERS, to, reg.ApiKeyRevoked(institution_id="inst-a", key_id="k-1",
                                                          revoked_at=AT + timedelta(hours=1)))
    assert await keys.key("k-1") is None
    assert projection.docs["api_keys"]["k-1"]["revoked_at"] == AT + timedelta(hours=1)


async def test_the_key_listener_changes_the_cache_and_writes_nothing() -> None:
    keys = ApiKeys(FakeKeyReads(), max_age_s=5.0)  # type: ignore[arg-type]
    await handle(KEY_HANDLERS, keys, reg.ApiKeyIssued(
        institution_id="inst-a", key_id="k-2", key_hash="h", sealed_key="s", prefix="fpba_k2", issued_at=AT,
    ))  # fmt: skip
    assert await keys.key("k-2") is not None
    await handle(KEY_HANDLERS, keys, reg.ApiKeyRevoked(institution_id="inst-a", key_id="k-2", revoked_at=AT))
    assert await keys.key("k-2") is None
    assert set(KEY_HANDLERS) == {reg.ApiKeyIssued, reg.ApiKeyRevoked}


async def test_a_closed_period_and_its_unlock_exception_reach_the_period_lock() -> None:
    store = FakePeriodLockStore()
    await handle(PERIOD_HANDLERS, store, evaluation.PeriodClosed(period="2026-Q3", closed_at=AT, closed_by="sec-1"))
    await handle(PERIOD_HANDLERS, store, evaluation.PeriodUnlocked(
        exception_id="u-1", period="2026-Q3", organization_id="org-1", requested_by="inst-admin",
        granted_by="sec-1", reason="系统故障补报 / a reporting outage", until=AT + timedelta(days=3), granted_at=AT,
    ))  # fmt: skip
    await handle(PERIOD_HANDLERS, store, evaluation.PeriodUnlockRevoked(
        exception_id="u-1", period="2026-Q3", organization_id="org-1", revoked_by="sec-1",
        revoked_at=AT + timedelta(days=1),
    ))  # fmt: skip
    assert store.closed_at == {"2026-Q3": AT}
    exception = store.exceptions["u-1"]
    assert (exception["organization_id"], exception["until"], exception["revoked_at"]) == (
        "org-1", AT + timedelta(days=3), AT + timedelta(days=1)
    )


def test_the_registry_table_projects_every_fact_the_assessor_reads() -> None:
    assert set(REGISTRY_HANDLERS) == {
        reg.InstitutionRegistered, reg.InstitutionReclassified, reg.OrganizationOpened, reg.OrganizationUpdated,
        reg.OrganizationClosed, reg.MemberRegistered, reg.MemberStatusChanged, reg.MemberLeft,
        reg.TransferAccepted, reg.ApiKeyIssued, reg.ApiKeyRevoked,
    }  # fmt: skip
