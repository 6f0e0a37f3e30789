"""What the evaluation service does with the events it reads, on one screen: each handler takes
the unit of work (`usecases.unit`), the event's payload and its envelope, projects what it says
and queues the quarters it touches for rescoring. The table at the end is the service's behaviour;
scoring, closing and the other use cases are in `usecases/`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from alliance_shared.contracts import activity as act
from alliance_shared.contracts import audit as audited
from alliance_shared.contracts import notification as note
from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.kafka.consumer import PayloadHandler, with_context

from .domain.periods import Period, local_day, month_window
from .domain.roll import RollChange
from .usecases import audit
from .usecases.unit import EvaluationUnit

EventHandler = Callable[[EvaluationUnit, Any, CloudEvent], Awaitable[None]]


# -- registry events: projected, and the quarters they touch queued for rescoring -----------------


async def on_institution(
    unit: EvaluationUnit, p: reg.InstitutionRegistered | reg.InstitutionReclassified, e: CloudEvent
) -> None:
    unit.registry_writes.append(unit.projections.institution_class(
        p.institution_id,
        p.name,
        p.effective_from,
        p.classification.model_dump(mode="json"),
        e.id,
        getattr(p, "uscc", None),
    ))
    await unit.dirty_from(p.effective_from, [p.institution_id])


async def on_organization_opened(unit: EvaluationUnit, p: reg.OrganizationOpened, e: CloudEvent) -> None:
    unit.registry_writes.append(unit.projections.organization(
        p.organization_id,
        {
            "institution_ids": p.institution_ids,
            "kind": p.kind.value,
            "name": p.name,
            "parent_id": p.parent_id,
            "opened": p.established_at.isoformat(),
            "has_party_groups": p.has_party_groups,
        },
    ))
    await unit.dirty_from(p.established_at, p.institution_ids)


async def on_organization_updated(unit: EvaluationUnit, p: reg.OrganizationUpdated, e: CloudEvent) -> None:
    unit.registry_writes.append(unit.projections.organization(
        p.organization_id,
        {
            "institution_ids": p.institution_ids,
            "name": p.name,
            "parent_id": p.parent_id,
            "has_party_groups": p.has_party_groups,
        },
    ))
    await unit.dirty_from(local_day(unit.clock.now()), p.institution_ids)


async def on_organization_closed(unit: EvaluationUnit, p: reg.OrganizationClosed, e: CloudEvent) -> None:
    unit.registry_writes.append(unit.projections.organization(p.organization_id, {"closed": p.closed_at.isoformat()}))
    await unit.flush_registry()  # the organisation's institutions are read back
    await unit.dirty_from(p.closed_at, await unit.projections.institutions_of_orgs([p.organization_id]))


async def on_roll_change(unit: EvaluationUnit, p: EventPayload, e: CloudEvent) -> None:
    change, member_id, institutions = roll_change(p, e)
    unit.registry_writes.append(unit.projections.roll_change(member_id, change, institutions))
    await unit.dirty_from(change.on, institutions)

# -- activity events: kept for the batch's end, their quarters queued ----------------------------


async def on_activity(unit: EvaluationUnit, p: EventPayload, e: CloudEvent) -> None:
    """Kept for the end of the batch (`end_batch`: one insert for the batch's events, their
    owners read once); a correction is stored at once, after what came before it."""
    doc = activity_document(p, e, unit.clock.now())
    if not e.supersedes:
        unit.activities.append(doc)
        return
    await unit.flush_activities()
    old = await unit.projections.activity(doc, e.supersedes)
    owners = await unit.projections.owners_of_activities([doc])
    periods = {doc["period"]} | ({old["period"]} if old and old.get("period") else set())
    await unit.queue(sorted(periods), e.id, owners[doc["_id"]], await unit.models.closed_periods(), doc)


async def on_review(
    unit: EvaluationUnit, p: act.SubmissionApproved | act.SubmissionReturned | act.SubmissionResubmitted, e: CloudEvent
) -> None:
    """A reported meeting or public activity was reviewed: its state is stored with it (after
    the batch's events, so the report is there) and its period rescored (the ruleset says
    which states count)."""
    await unit.flush_activities()
    step = {"event_id": e.id, "state": p.state.value, "by": p.by, "comment": p.comment, "at": p.at}
    doc = await unit.projections.review(p.submission_id, p.state.value, p.version, step)
    if doc is not None and doc.get("period"):
        owners = await unit.projections.owners_of_activities([doc])
        await unit.queue([doc["period"]], e.id, owners[doc["_id"]], await unit.models.closed_periods(), doc)


async def on_rejected(unit: EvaluationUnit, p: act.SubmissionRejected, e: CloudEvent) -> None:
    await unit.projections.rejection(
        {
            "_id": p.submission_id,
            "institution_id": p.institution_id,
            "organization_id": p.organization_id,
            "channel": p.channel.value,
            "event_type": p.event_type_submitted,
            "reasons": [r.model_dump() for r in p.reasons],
            "received_at": p.received_at,
            "period": str(Period.of_instant(p.received_at)),
        }
    )


async def on_delivery(unit: EvaluationUnit, p: note.DeliveryStatusChanged, e: CloudEvent) -> None:
    await unit.projections.delivery(
        p.delivery_id,
        {
            "organization_id": p.organization_id,
            "institution_id": p.institution_id,
            "rule": p.rule,
            "step": p.step,
            "channel": p.channel,
            "status": p.status,
            "attempt": p.attempt,
            "recipient": p.recipient_masked,
            "period": p.period,
            "at": p.at,
            "reason": p.reason_zh,  # why it was not delivered, from the provider's receipt
        },
        {"event_id": e.id, "status": p.status, "at": p.at, "error": p.error, "reason": p.reason_zh},
    )


async def on_audited(unit: EvaluationUnit, p: audited.ActionAudited, e: CloudEvent) -> None:
    """A record another service audited, projected into the one audit trail."""
    await audit.on_audited(unit.models.trail, p, e)


def roll_change(p: EventPayload, e: CloudEvent) -> tuple[RollChange, str, list[str]]:
    if isinstance(p, reg.MemberRegistered):
        return (
            RollChange(e.id, p.joined_at, "registered", p.organization_id, p.status.value, p.pocket),
            p.member_id,
            [p.institution_id],
        )
    if isinstance(p, reg.MemberStatusChanged):
        return (
            RollChange(e.id, p.effective_at, "status", p.organization_id, p.status.value, p.pocket),
            p.member_id,
            [p.institution_id],
        )
    if isinstance(p, reg.MemberLeft):
        return RollChange(e.id, p.left_at, "left"), p.member_id, [p.institution_id]
    assert isinstance(p, reg.TransferAccepted)
    return (
        RollChange(e.id, p.effective_at, "transfer", p.to_organization_id, p.status.value),
        p.member_id,
        sorted({p.institution_id, p.to_institution_id}),
    )


def activity_document(p: EventPayload, e: CloudEvent, now: datetime) -> dict[str, Any]:
    """The stored form of an accepted activity event, with the period it counts in."""
    received = e.receivedat or now
    doc: dict[str, Any] = {
        "_id": e.id,
        "type": e.type,
        "institution_id": e.institutionid,
        "reporting_level": e.reportinglevel,
        "channel": e.channel,
        "received_at": received,
        "late": bool(e.late),
        "flags": e.flags,
        "supersedes": e.supersedes,
        # what an officer opens from the evidence: what it said, when and how it came
        "source": e.source,
        "time": e.time,
        "data": e.data,
        "provenance": {"batch_id": e.batchid, "file_name": e.filename, "row": e.sourcerow},
        "filed_by": e.filedby,  # who filed it; `on_behalf_of` the branch a superior filed it for (上级代办)
        "on_behalf_of": e.onbehalfof,
    }
    if isinstance(p, act.MeetingHeld):
        day = local_day(p.held_at)
        doc |= {
            "organization_id": p.organization_id,
            "kind": p.meeting_kind.value,
            "held_on": day.isoformat(),
            "held_at": p.held_at,
            "attendees": len(set(p.attendee_ids)),
            "attendee_ids": sorted(set(p.attendee_ids)),  # who: the roll on the day decides who counts
            "expected": p.expected_count,
        }
    elif isinstance(p, act.LearningCompleted):
        day = p.date
        doc |= {"member_id": p.member_id, "day": day.isoformat(), "minutes": p.minutes}
    elif isinstance(p, act.DuesPaid):
        day = month_window(p.month).start
        doc |= {"member_id": p.member_id, "month": p.month, "amount_cny": p.amount_cny}
    elif isinstance(p, act.PublicActivityHeld):
        day = local_day(p.held_at)
        doc |= {
            "organization_id": p.organization_id,
            "kind": p.kind,
            "held_on": day.isoformat(),
            "participant_ids": sorted(set(p.participant_ids)),
            "hours": p.hours,
        }
    elif isinstance(p, act.ComplianceIncidentReported):
        day = local_day(p.occurred_at)
        doc |= {
            "institution_id": p.institution_id,
            "severity": p.severity.value,
            "occurred_on": day.isoformat(),
        }
    else:
        assert isinstance(p, act.SocialContributionReported)
        day = Period.parse(p.period).start
        doc |= {
            "institution_id": p.institution_id,
            "tax_paid_cny": p.tax_paid_cny,
            "volunteer_hours": p.volunteer_hours,
        }
    doc["period"] = str(Period.of_day(day))
    return doc


EVENT_HANDLERS: dict[type[EventPayload], EventHandler] = {
    reg.InstitutionRegistered: on_institution,
    reg.InstitutionReclassified: on_institution,
    reg.OrganizationOpened: on_organization_opened,
    reg.OrganizationUpdated: on_organization_updated,
    reg.OrganizationClosed: on_organization_closed,
    reg.MemberRegistered: on_roll_change,
    reg.MemberStatusChanged: on_roll_change,
    reg.MemberLeft: on_roll_change,
    reg.TransferAccepted: on_roll_change,
    act.MeetingHeld: on_activity,
    act.LearningCompleted: on_activity,
    act.DuesPaid: on_activity,
    act.PublicActivityHeld: on_activity,
    act.ComplianceIncidentReported: on_activity,
    act.SocialContributionReported: on_activity,
    act.SubmissionRejected: on_rejected,
    act.SubmissionApproved: on_review,
    act.SubmissionReturned: on_review,
    act.SubmissionResubmitted: on_review,
    note.DeliveryStatusChanged: on_delivery,
    audited.RegistryActionAudited: on_audited,
    audited.NotificationActionAudited: on_audited,
    audited.ActivityActionAudited: on_audited,
}


def bound(unit: EvaluationUnit) -> dict[type[EventPayload], PayloadHandler]:
    """The table with the unit given: what the consumer dispatches to."""
    return with_context(EVENT_HANDLERS, unit)
