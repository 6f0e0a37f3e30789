"""Each of evaluation's event handlers over in-memory adapters (`fakes.py`): what it projects, which
quarters it queues for rescoring, and what the unit of work writes at the batch's end — no Kafka,
no store (cosmicpython's tests/unit/test_handlers.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alliance_evaluation.handlers import EVENT_HANDLERS, bound
from alliance_evaluation.usecases.unit import EvaluationUnit
from alliance_shared.contracts import activity as act
from alliance_shared.contracts import audit as audited
from alliance_shared.contracts import notification as note
from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.vocabulary import MeetingKind, MemberStatus, OrganizationKind

from .fakes import FakeProjections, FakeReadModels, unit

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # mid-Q4 2026
CLASSIFICATION = reg.InstitutionClassification(
    ownership="state_owned", party_org_status="established_complete", reporting_level="L2"
)


async def handle(u: EvaluationUnit, payload: EventPayload, **extensions: Any) -> CloudEvent:
    """Dispatch one event as the consumer does: through the table, with the unit given."""
    event = envelope(payload, source="/test", **extensions)
    await bound(u)[type(payload)](payload, event)
    return event


def fakes(u: EvaluationUnit) -> tuple[FakeProjections, FakeReadModels]:
    assert isinstance(u.projections, FakeProjections) and isinstance(u.models, FakeReadModels)
    return u.projections, u.models


def meeting(org: str = "org-1", held: datetime = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)) -> act.MeetingHeld:
    return act.MeetingHeld(
        organization_id=org, meeting_kind=MeetingKind.BRANCH_GENERAL_MEETING, held_at=held, expected_count=10,
        attendee_ids=["m-1", "m-2"],
    )  # fmt: skip


def reported(**more: Any) -> dict[str, Any]:
    return {"institutionid": "inst-a", "receivedat": NOW, "channel": "form", **more}


# -- registry events ---------------------------------------------------------------------------
async def test_a_registered_institution_is_projected_and_its_quarters_since_it_joined_are_queued() -> None:
    u = unit(NOW)
    projections, models = fakes(u)
    await handle(u, reg.InstitutionRegistered(
        institution_id="inst-a", uscc="91440300MA5XXXXX0A", name="甲银行", classification=CLASSIFICATION,
        effective_from=date(2026, 8, 3),
    ))  # fmt: skip
    assert projections.applied == []  # held for the batch's end
    await u.end_batch()
    assert [(w.collection, w.doc_id) for w in projections.applied] == [("institutions", "inst-a")]
    assert models.dirty == {"2026-Q3": {"inst-a"}, "2026-Q4": {"inst-a"}}


async def test_a_change_in_force_years_ago_rescores_only_the_last_quarters_the_settings_name() -> None:
    u = unit(NOW, rescore_quarters=2)
    _, models = fakes(u)
    await handle(u, reg.InstitutionReclassified(
        institution_id="inst-a", name="甲银行", classification=CLASSIFICATION, previous=CLASSIFICATION,
        effective_from=date(2019, 1, 1),
    ))  # fmt: skip
    await u.end_batch()
    assert models.dirty == {"2026-Q3": {"inst-a"}, "2026-Q4": {"inst-a"}}


async def test_an_opened_joint_branch_queues_each_of_its_institutions() -> None:
    u = unit(NOW)
    projections, models = fakes(u)
    await handle(u, reg.OrganizationOpened(
        organization_id="org-j", institution_id="inst-a", institution_ids=["inst-a", "inst-b"], name="联合党支部",
        kind=OrganizationKind.BRANCH, established_at=date(2026, 10, 8),
    ))  # fmt: skip
    await u.end_batch()
    (write,) = projections.applied
    assert write.doc_id == "org-j" and write.update["$set"]["institution_ids"] == ["inst-a", "inst-b"]
    assert models.dirty == {"2026-Q4": {"inst-a", "inst-b"}}


async def test_an_updated_organisation_rescores_from_today_only() -> None:
    u = unit(NOW)
    _, models = fakes(u)
    await handle(u, reg.OrganizationUpdated(
        organization_id="org-1", institution_id="inst-a", institution_ids=["inst-a"], name="第一党支部",
    ))  # fmt: skip
    await u.end_batch()
    assert models.dirty == {"2026-Q4": {"inst-a"}}


async def test_a_closed_organisation_is_written_before_its_institutions_are_read_back() -> None:
    u = unit(NOW)
    projections, models = fakes(u)
    projections.institutions_by_org["org-1"] = ["inst-a", "inst-c"]
    await handle(u, reg.OrganizationClosed(organization_id="org-1", institution_id="inst-a",
                                           closed_at=date(2026, 9, 30)))
    assert [w.update for w in projections.applied] == [{"$set": {"closed": "2026-09-30"}}]  # at once
    await u.end_batch()
    assert models.dirty == {"2026-Q3": {"inst-a", "inst-c"}, "2026-Q4": {"inst-a", "inst-c"}}


async def test_a_member_transferred_between_institutions_rescores_both() -> None:
    u = unit(NOW)
    projections, models = fakes(u)
    await handle(u, reg.TransferAccepted(
        transfer_id="t-1", member_id="m-1", institution_id="inst-a", from_organization_id="org-1",
        to_organization_id="org-9", to_institution_id="inst-b", effective_at=date(2026, 11, 2),
        status=MemberStatus.FULL,
    ))  # fmt: skip
    await u.end_batch()
    (write,) = projections.applied
    assert (write.collection, write.doc_id) == ("members", "m-1")
    assert models.dirty == {"2026-Q4": {"inst-a", "inst-b"}}


@pytest.mark.parametrize("payload", [
    reg.MemberRegistered(member_id="m-1", organization_id="org-1", institution_id="inst-a",
                         status=MemberStatus.PROBATIONARY, joined_at=date(2026, 10, 1)),
    reg.MemberStatusChanged(member_id="m-1", organization_id="org-1", institution_id="inst-a",
                            status=MemberStatus.FULL, previous_status=MemberStatus.PROBATIONARY,
                            effective_at=date(2026, 10, 1)),
    reg.MemberLeft(member_id="m-1", organization_id="org-1", institution_id="inst-a", left_at=date(2026, 10, 1)),
], ids=["registered", "status", "left"])  # fmt: skip
async def test_a_change_of_the_roll_is_written_to_the_members_roll_and_rescores_the_institution(
    payload: EventPayload,
) -> None:
    u = unit(NOW)
    projections, models = fakes(u)
    await handle(u, payload)
    await u.end_batch()
    (write,) = projections.applied
    assert (write.collection, write.doc_id) == ("members", "m-1")
    assert models.dirty == {"2026-Q4": {"inst-a"}}


# -- activity events ---------------------------------------------------------------------------
async def test_accepted_reports_are_stored_together_at_the_batchs_end_and_their_quarter_queued() -> None:
    u = unit(NOW)
    projections, models = fakes(u)
    first = await handle(u, meeting("org-1"), **reported())
    second = await handle(u, act.DuesPaid(member_id="m-1", month="2026-10", amount_cny=30.0), **reported())
    assert projections.stored == {}
    await u.end_batch()
    assert set(projections.stored) == {first.id, second.id}
    assert projections.stored[first.id]["period"] == "2026-Q4" and projections.stored[first.id]["attendees"] == 2
    assert models.dirty == {"2026-Q4": {"inst-a"}} and models.dirty_writes == 1  # one write for the batch


async def test_a_correction_is_stored_at_once_and_rescores_the_quarters_of_both_versions() -> None:
    u = unit(NOW)
    projections, models = fakes(u)
    old = await handle(u, meeting(held=datetime(2026, 9, 28, 2, 0, tzinfo=UTC)), **reported())
    await u.end_batch()
    fixed = await handle(u, meeting(held=datetime(2026, 10, 9, 2, 0, tzinfo=UTC)), **reported(supersedes=old.id))
    assert fixed.id in projections.stored  # not held for the batch's end
    await u.end_batch()
    assert models.dirty == {"2026-Q3": {"inst-a"}, "2026-Q4": {"inst-a"}}


async def test_a_report_into_a_closed_quarter_is_recorded_late_and_rescores_nothing() -> None:
    u = unit(NOW)
    _, models = fakes(u)
    models.closed["2026-Q3"] = datetime(2026, 10, 15, tzinfo=UTC)
    event = await handle(u, meeting(held=datetime(2026, 9, 20, 2, 0, tzinfo=UTC)), **reported())
    await u.end_batch()
    assert models.late == [("2026-Q3", event.id)]
    assert models.dirty == {} and models.unlocked == {}


async def test_a_report_let_in_by_an_unlock_exception_rescores_the_closed_quarter_for_its_institution() -> None:
    u = unit(NOW)
    _, models = fakes(u)
    models.closed["2026-Q3"] = datetime(2026, 10, 15, tzinfo=UTC)
    models.periods["2026-Q3"] = {"unlocks": [{"organization_id": "org-1", "institution_id": "inst-a",
                                              "granted_at": NOW - timedelta(days=1), "until": NOW + timedelta(days=3)}]}
    await handle(u, meeting(held=datetime(2026, 9, 20, 2, 0, tzinfo=UTC)), **reported())
    await u.end_batch()
    assert models.unlocked == {"2026-Q3": {"inst-a"}} and models.dirty == {}


async def test_a_failed_write_keeps_the_batch_for_the_next_try() -> None:
    u = unit(NOW)
    projections, models = fakes(u)
    event = await handle(u, meeting(), **reported())
    projections.fail_next_activities = True
    with pytest.raises(ConnectionError):
        await u.end_batch()
    assert projections.stored == {} and models.dirty == {}
    await u.end_batch()  # the consumer's retry of the same batch
    assert set(projections.stored) == {event.id} and models.dirty == {"2026-Q4": {"inst-a"}}


async def test_an_approved_report_stores_its_review_step_and_rescores_its_quarter() -> None:
    u = unit(NOW)
    projections, models = fakes(u)
    report = await handle(u, meeting(), **reported())
    review = await handle(u, act.SubmissionApproved(
        submission_id=report.id, institution_id="inst-a", event_type_submitted=report.type, state="approved",
        version=1, by="reviewer-1", at=NOW,
    ))  # fmt: skip
    assert projections.stored[report.id]["review_state"] == "approved"  # the report was stored first
    assert [s["event_id"] for s in projections.reviews[report.id]] == [review.id]
    await u.end_batch()
    assert models.dirty == {"2026-Q4": {"inst-a"}}


async def test_a_review_of_a_report_evaluation_never_stored_changes_nothing() -> None:
    u = unit(NOW)
    projections, models = fakes(u)
    await handle(u, act.SubmissionReturned(
        submission_id="unknown", institution_id="inst-a", event_type_submitted="fpba.meeting.held.v1",
        state="returned", version=1, by="reviewer-1", at=NOW, comment="请补充签到表 / add the sign-in sheet",
    ))  # fmt: skip
    await u.end_batch()
    assert projections.reviews == {} and models.dirty == {}


async def test_a_rejected_submission_is_kept_with_the_quarter_it_arrived_in() -> None:
    u = unit(NOW)
    projections, _ = fakes(u)
    await handle(u, act.SubmissionRejected(
        submission_id="s-1", institution_id="inst-a", organization_id="org-1", channel="upload",
        reasons=[act.RejectionReason(field="held_at", reason="日期不能晚于今天 / in the future")],
        received_at=datetime(2026, 9, 30, 17, 0, tzinfo=UTC),  # 1 October in Shanghai
    ))  # fmt: skip
    assert projections.rejections["s-1"]["period"] == "2026-Q4"
    assert projections.rejections["s-1"]["reasons"][0]["field"] == "held_at"


# -- other services' records -------------------------------------------------------------------
async def test_a_delivery_status_is_projected_once_per_event_even_when_redelivered() -> None:
    u = unit(NOW)
    projections, _ = fakes(u)
    payload = note.DeliveryStatusChanged(
        delivery_id="d-1", rule="lagging", step="email", organization_id="org-1", institution_id="inst-a",
        channel="email", status="delivered", at=NOW,
    )  # fmt: skip
    event = envelope(payload, source="/notification")
    for _ in range(2):
        await bound(u)[note.DeliveryStatusChanged](payload, event)
    assert projections.deliveries["d-1"]["status"] == "delivered"
    assert [h["event_id"] for h in projections.deliveries["d-1"]["history"]] == [event.id]


async def test_another_services_audit_record_joins_the_trail_once() -> None:
    u = unit(NOW)
    _, models = fakes(u)
    payload = audited.RegistryActionAudited(
        audit_id="a-1", at=NOW, service="registry", action="member.pii.read", actor="sec-1",
        object_type="member", object_id="m-1",
    )  # fmt: skip
    event = envelope(payload, source="/registry")
    for _ in range(2):
        await bound(u)[audited.RegistryActionAudited](payload, event)
    assert list(models.trail.records) == ["a-1"]


def test_the_table_handles_every_fact_that_changes_a_score() -> None:
    changing = {*reg.PAYLOADS, *act.PAYLOADS} - {
        reg.TransferRequested, reg.TransferRefused, reg.TransferOverdue, reg.ApiKeyIssued, reg.ApiKeyRevoked,
    }  # fmt: skip
    assert changing <= set(EVENT_HANDLERS), sorted(t.__name__ for t in changing - set(EVENT_HANDLERS))
