"""Use cases of the notification service: events in (lagging branches, rejections, meetings,
contacts, overdue transfers), reminders and escalations decided, deliveries queued. Sending lives in
`dispatch.py`. The table at the bottom is what the service does."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from alliance_shared.clock import Clock
from alliance_shared.contracts.activity import MeetingHeld, SubmissionRejected, SubmissionReturned
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.evaluation import BranchCaughtUp, BranchFellBehind, ReportsMissing
from alliance_shared.contracts.notification import DeliveryStatusChanged
from alliance_shared.contracts.registry import (
    Contact,
    InstitutionReclassified,
    InstitutionRegistered,
    OrganizationOpened,
    OrganizationUpdated,
    TransferOverdue,
)
from alliance_shared.contracts.vocabulary import zh
from alliance_shared.kafka.consumer import PayloadHandler, with_context
from alliance_shared.validation import field_zh

from .adapters.store import Doc, Store
from .domain import rules as rulebook
from .domain.deliveries import UNATTEMPTED
from .domain.rules import Rule, Step
from .domain.timing import SHANGHAI, iso_week, local_day, shanghai_text
from .settings import NotificationSettings

log = logging.getLogger(__name__)
SOURCE = "/notification"
CLOSED_LOOP_WINDOW = timedelta(days=14)


class NotificationUnit:
    """What the use cases need: the store (opened by the composition root once the database is
    there), the clock, the settings, and a way to wake the outbox relay after a write that added
    events."""

    def __init__(
        self, open_store: Callable[[], Store], clock: Clock, settings: NotificationSettings, wake: Callable[[], None]
    ) -> None:
        self._open_store = open_store
        self.clock = clock
        self.settings = settings
        self._wake = wake
        self._store: Store | None = None
        # branches that reported in the Kafka batch being handled: (organisation, at, reason),
        # applied together by `apply_reports` before the next other event and at the batch's end
        self.reports: list[tuple[str, datetime, str]] = []

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def wake_outbox(self) -> None:
        self._wake()


def status_event(
    doc: Doc,
    status: str,
    at: datetime,
    *,
    error: str | None = None,
    code: str | None = None,
    reason_zh: str | None = None,
) -> tuple[EventPayload, CloudEvent]:
    payload = DeliveryStatusChanged(
        delivery_id=doc["_id"],
        rule=doc["rule"],
        step=doc["step"],
        organization_id=doc.get("organization_id"),
        institution_id=doc.get("institution_id"),
        period=doc.get("period"),
        channel=doc["channel"],
        status=status,
        attempt=int(doc.get("attempts", 0)),
        recipient_masked=doc.get("recipient_masked") or "",
        provider=doc.get("provider"),
        error=error,
        at=at,
        error_code=code,
        reason_zh=reason_zh,
    )
    return payload, envelope(payload, source=SOURCE, institutionid=doc.get("institution_id"))


# -- opening cases and issuing reminders -------------------------------------------------------
async def open_case(
    n: NotificationUnit,
    rule: Rule,
    *,
    org_id: str,
    institution_id: str | None,
    period: str,
    context: dict[str, Any],
    contact_ref: str | None = None,
) -> None:
    """Open the (rule, organisation, period) case if new, and make sure its first step is issued.
    Safe to repeat: a redelivered event finds the case and the reminder already there."""
    if not rule.enabled:
        return
    now = n.clock.now()
    second = rule.step(1)
    case = await n.store.cases.open(
        {
            "_id": f"{rule.name}|{org_id}|{period}",
            "rule": rule.name,
            "organization_id": org_id,
            "institution_id": institution_id,
            "period": period,
            "status": "open",
            "step_index": 0,
            "step": rule.steps[0].name,
            "opened_at": now,
            "contact_ref": contact_ref or org_id,
            "next_step_at": now + timedelta(days=second.after_days) if second else None,
            "context": context,
        }
    )
    if case["step_index"] == 0 and case["status"] == "open":
        await issue_step(n, rule, case, 0)
        if second is None:
            await n.store.cases.advance(case["_id"], 0, 1, None, now)


async def issue_step(n: NotificationUnit, rule: Rule, case: Doc, index: int) -> None:
    """Create the reminder for step `index` of `case` (deduped) and queue its deliveries."""
    step = rule.steps[index]
    now = n.clock.now()
    org_id, period = case["organization_id"], case["period"]
    key = f"{rule.name}|{org_id}|{period}|{step.name}"
    context = {**case.get("context", {}), "first_reminder_at": shanghai_text(case["opened_at"])}
    await n.store.reminders.create(
        {
            "_id": key,
            "dedupe_key": key,
            "rule": rule.name,
            "step": step.name,
            "step_index": index,
            "case_id": case["_id"],
            "organization_id": org_id,
            "institution_id": case.get("institution_id"),
            "period": period,
            "created_at": now,
            "reported_at": None,
            "items_count": 0,
            "context": context,
        }
    )
    reminder = await n.store.reminders.get(key)
    assert reminder is not None
    due, note = reminder["created_at"] + timedelta(minutes=rule.gather_minutes), None
    if index == 0 and rule.min_interval_days:
        # at most one reminder per organisation and rule per interval: later ones wait, never vanish
        earlier = await n.store.reminders.latest_other(
            rule.name, org_id, key, now - timedelta(days=rule.min_interval_days)
        )
        if earlier is not None:
            due, note = earlier["created_at"] + timedelta(days=rule.min_interval_days), "throttled"
    for channel in step.channels:
        doc = delivery_of(rule, step, case, key, channel, now, due, note)
        if await n.store.deliveries.create(doc, [status_event(doc, doc["status"], now)]):
            n.wake_outbox()


def delivery_of(
    rule: Rule, step: Step, case: Doc, key: str, channel: str, now: datetime, due: datetime, note: str | None
) -> Doc:
    """A reminder's delivery on one channel, as first stored: queued (or deferred by the interval a
    rule keeps between reminders), due after the rule's gathering minutes. Its id is deterministic
    (the reminder, the channel, the recipient), so a redelivered event finds it instead of making another."""
    org_id, period = case["organization_id"], case["period"]
    return {
        "_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key}|{channel}|{case.get('contact_ref')}")),
        "reminder_id": key,
        "case_id": case["_id"],
        "rule": rule.name,
        "step": step.name,
        "template": step.template,
        "channel": channel,
        "audience": step.audience,
        "contact_ref": case.get("contact_ref") or org_id,
        "organization_id": org_id,
        "institution_id": case.get("institution_id"),
        "period": period,
        "status": "deferred" if note else "queued",
        **UNATTEMPTED,
        "created_at": now,
        "updated_at": now,
        "due_at": due,
        "claimed_until": None,
        "history": [
            {
                "status": "deferred" if note else "queued",
                "at": now,
                "attempt": 0,
                "note": note,
                "until": due if note else None,
            }
        ],
    }


async def advance_escalations(n: NotificationUnit) -> int:
    """Move every open case whose next step is due one rung up the ladder."""
    now, moved = n.clock.now(), 0
    for case in await n.store.cases.due(now):
        rule = await n.store.catalog.rule(case["rule"])
        index = int(case["step_index"]) + 1
        step = rule.step(index) if rule else None
        if rule is None or step is None:
            await n.store.cases.advance(case["_id"], index - 1, index - 1, None, now)
            continue
        await issue_step(n, rule, case, index)
        following = rule.step(index + 1)
        next_at = case["opened_at"] + timedelta(days=following.after_days) if following else None
        if await n.store.cases.advance(case["_id"], index - 1, index, next_at, now):
            await n.store.cases.set_step_name(case["_id"], step.name)
            moved += 1
    return moved


async def apply_reports(n: NotificationUnit) -> None:
    """Branches reported again (the reports gathered from a Kafka batch): their open cases close,
    pending sends are cancelled, and the reminders of the 14 days before each report count as
    answered (the closed-loop figure). A handful of store commands for the whole batch."""
    reports = list(n.reports)  # dropped once applied: a failure leaves them for the retry
    if not reports:
        return
    rules = [r.name for r in await n.store.catalog.rules() if r.closes_on_report]
    first: dict[str, tuple[datetime, str]] = {}
    for org_id, at, reason in reports:
        first.setdefault(org_id, (at, reason))
    for case in await n.store.cases.open_of(list(first), rules):
        at, reason = first[case["organization_id"]]
        if await n.store.cases.resolve(case["_id"], at, reason) is None:
            continue
        for doc in await n.store.deliveries.pending_of_case(case["_id"]):
            try:
                await n.store.deliveries.change(
                    doc,
                    {"status": "cancelled", "updated_at": at, "due_at": None},
                    {"status": "cancelled", "at": at, "note": reason},
                    [status_event(doc, "cancelled", at)],
                )
            except Exception:  # being sent right now: the dispatcher sees the resolved case
                log.info("delivery %s changed while cancelling; dispatcher will decide", doc["_id"])
        n.wake_outbox()
    await n.store.reminders.mark_reported(
        [(org_id, at) for org_id, at, _ in reports], rulebook.BRANCH_RULES, CLOSED_LOOP_WINDOW
    )
    del n.reports[: len(reports)]


# -- event handlers ------------------------------------------------------------------------------
async def on_branch_fell_behind(n: NotificationUnit, p: BranchFellBehind, event: CloudEvent) -> None:
    rule = await n.store.catalog.rule(rulebook.LAGGING if p.status == "lagging" else rulebook.AT_RISK)
    if rule is not None:
        await open_case(
            n,
            rule,
            org_id=p.organization_id,
            institution_id=p.institution_id,
            period=p.period,
            context={
                "days_since_last_meeting": p.days_since_last_meeting,
                "org_life_score": p.org_life_score,
                "detected_at": shanghai_text(p.detected_at),
            },
        )


async def on_branch_caught_up(n: NotificationUnit, p: BranchCaughtUp, event: CloudEvent) -> None:
    n.reports.append((p.organization_id, p.caught_up_at, "caught_up"))


async def on_meeting_held(n: NotificationUnit, p: MeetingHeld, event: CloudEvent) -> None:
    n.reports.append((p.organization_id, event.receivedat or n.clock.now(), "meeting_reported"))


async def on_reports_missing(n: NotificationUnit, p: ReportsMissing, event: CloudEvent) -> None:
    rule = await n.store.catalog.rule(rulebook.REPORTS_MISSING)
    names = [zh(m) for m in p.missing]
    names_en = [m.replace("_", " ") for m in p.missing]
    if rule is not None:
        await open_case(
            n,
            rule,
            org_id=p.organization_id,
            institution_id=p.institution_id,
            period=p.period,
            context={"missing": names, "missing_en": names_en, "due_on": p.due_on.isoformat()},
        )


async def on_submission_rejected(n: NotificationUnit, p: SubmissionRejected, event: CloudEvent) -> None:
    rule = await n.store.catalog.rule(rulebook.SUBMISSION_REJECTED)
    if rule is None or not p.institution_id:
        return
    day = local_day(p.received_at)
    await open_case(
        n,
        rule,
        org_id=p.institution_id,
        institution_id=p.institution_id,
        period=day,
        context={"reasons": [], "rejected_count": 0},
    )
    key = f"{rule.name}|{p.institution_id}|{day}|{rule.steps[0].name}"
    for reason in p.reasons[:5]:
        await n.store.reminders.add_item(
            key,
            {
                "submission_id": p.submission_id,
                "field": reason.field,
                "field_zh": field_zh(reason.field),
                "reason": reason.reason,
                **_readable(reason.field, reason.reason),
            },
        )


async def on_submission_returned(n: NotificationUnit, p: SubmissionReturned, event: CloudEvent) -> None:
    """A reviewer returned a branch's report: its secretary is told why (email and SMS), once per return."""
    rule = await n.store.catalog.rule(rulebook.SUBMISSION_RETURNED)
    if rule is None or not p.organization_id:
        return
    meeting = p.event_type_submitted == MeetingHeld.event_type
    kind_zh = zh(p.activity_kind) if meeting and p.activity_kind else ""
    await open_case(
        n,
        rule,
        org_id=p.organization_id,
        institution_id=p.institution_id,
        period=f"{p.submission_id}#{p.version}",
        context={
            "submission_id": p.submission_id,
            "activity_zh": kind_zh or ("会议" if meeting else "公共活动"),
            "activity_en": "meeting" if meeting else "public activity",
            "held_on": local_day(p.held_at) if p.held_at else None,
            "comment": p.comment,
            "reviewer_zh": "秘书处" if p.by_role and p.by_role.value == "secretariat" else "机构党务管理员",
        },
    )


def _readable(field: str, text: str) -> dict[str, str]:
    """The mail's Chinese part reads Chinese, its English part English, each naming the field once."""
    zh_text, _, en_text = text.partition(" / ")
    name = field_zh(field)
    return {
        "reason_zh": zh_text if name in zh_text else f"{name}：{zh_text}",
        "reason_en": (en_text or zh_text)
        if (en_text or "").startswith(field)
        else f"{field}: {en_text or zh_text}",
    }


async def on_transfer_overdue(n: NotificationUnit, p: TransferOverdue, event: CloudEvent) -> None:
    rule = await n.store.catalog.rule(rulebook.TRANSFER_OVERDUE)
    if rule is None:
        return
    from_org = await n.store.contacts.organization(p.from_organization_id)
    to_org = await n.store.contacts.organization(p.to_organization_id)
    context = {
        "days_overdue": p.days_overdue,
        "deadline": p.deadline.isoformat(),
        "from_organization_name": (from_org or {}).get("name", p.from_organization_id),
        "to_organization_name": (to_org or {}).get("name", p.to_organization_id),
    }
    for org_id, inst in (
        (p.from_organization_id, p.institution_id),
        (p.to_organization_id, p.to_institution_id),
    ):
        await open_case(n, rule, org_id=org_id, institution_id=inst, period=p.transfer_id, context=context)


def _contact(c: Contact | None) -> dict[str, Any] | None:
    return c.model_dump() if c is not None else None


async def _contact_known(n: NotificationUnit, contact: Contact | None, institution_ids: Sequence[str]) -> None:
    """A contact arrived: the deliveries that were waiting for one are due now (a reminder can be
    opened before the registry's events about its branch reach this service)."""
    if contact is not None and (contact.email_sealed or contact.phone_sealed):
        await n.store.deliveries.contact_arrived(institution_ids, n.clock.now())


async def on_organization_opened(n: NotificationUnit, p: OrganizationOpened, event: CloudEvent) -> None:
    await n.store.contacts.upsert_organization(
        p.organization_id,
        {
            "name": p.name,
            "org_kind": p.kind.value,
            "institution_id": p.institution_id,
            "institution_ids": p.institution_ids,
            "parent_id": p.parent_id,
        },
        _contact(p.secretary),
    )
    await _contact_known(n, p.secretary, [p.institution_id, *p.institution_ids])


async def on_organization_updated(n: NotificationUnit, p: OrganizationUpdated, event: CloudEvent) -> None:
    await n.store.contacts.upsert_organization(
        p.organization_id,
        {
            "name": p.name,
            "institution_id": p.institution_id,
            "institution_ids": p.institution_ids,
            "parent_id": p.parent_id,
        },
        _contact(p.secretary),
    )
    await _contact_known(n, p.secretary, [p.institution_id, *p.institution_ids])


async def on_institution_registered(n: NotificationUnit, p: InstitutionRegistered, event: CloudEvent) -> None:
    await n.store.contacts.upsert_institution(p.institution_id, {"name": p.name}, _contact(p.contact))
    await _contact_known(n, p.contact, [p.institution_id])


async def on_institution_reclassified(n: NotificationUnit, p: InstitutionReclassified, event: CloudEvent) -> None:
    await n.store.contacts.upsert_institution(
        p.institution_id, {"name": p.name} if p.name else {}, _contact(p.contact)
    )
    await _contact_known(n, p.contact, [p.institution_id])


# -- scheduled -------------------------------------------------------------------------------------
def digest_due(n: NotificationUnit, *, weekday: int = 0, hour: int = 9) -> bool:
    """Monday from 09:00 (Asia/Shanghai)."""
    local = n.clock.now().astimezone(SHANGHAI)
    return local.weekday() == weekday and local.hour >= hour


async def weekly_digest(
    n: NotificationUnit,
    digest: dict[str, Any],
    institutions: dict[str, dict[str, Any]] | None = None,
    *,
    weekday: int = 0,
    hour: int = 9,
) -> bool:
    """On Monday from 09:00 (Asia/Shanghai) the week's digest is queued once for the secretariat,
    and each institution's own (its branches) once for its Party committee."""
    if not digest_due(n, weekday=weekday, hour=hour):
        return False
    week = iso_week(n.clock.now())
    rule = await n.store.catalog.rule(rulebook.WEEKLY_DIGEST)
    if rule is not None:
        await open_case(
            n,
            rule,
            org_id="secretariat",
            institution_id=None,
            period=week,
            context={"week": week, "digest": digest},
        )
    own = await n.store.catalog.rule(rulebook.INSTITUTION_DIGEST)
    for inst, figures in sorted((institutions or {}).items()):
        if own is None:
            break
        await open_case(
            n,
            own,
            org_id=f"committee-of:{inst}",
            institution_id=inst,
            period=week,
            context={"week": week, "digest": figures},
        )
    return True


EVENT_HANDLERS: dict[type[EventPayload], Any] = {
    BranchFellBehind: on_branch_fell_behind,
    BranchCaughtUp: on_branch_caught_up,
    ReportsMissing: on_reports_missing,
    SubmissionRejected: on_submission_rejected,
    SubmissionReturned: on_submission_returned,
    MeetingHeld: on_meeting_held,
    OrganizationOpened: on_organization_opened,
    OrganizationUpdated: on_organization_updated,
    InstitutionRegistered: on_institution_registered,
    InstitutionReclassified: on_institution_reclassified,
    TransferOverdue: on_transfer_overdue,
}


# handlers that only gather a report for `apply_reports`; every other handler applies what was
# gathered first, so a batch's events take effect in their order
GATHERING = {on_branch_caught_up, on_meeting_held}


def _after_gathered(handler: Any) -> Any:
    """`handler`, applying first the reports the batch has gathered so far."""

    async def handle(n: NotificationUnit, payload: Any, event: CloudEvent) -> None:
        await apply_reports(n)
        await handler(n, payload, event)

    return handle


def bound_handlers(n: NotificationUnit) -> dict[type[EventPayload], PayloadHandler]:
    """The table with the unit given, for `EventDispatch`."""
    in_order = {kind: h if h in GATHERING else _after_gathered(h) for kind, h in EVENT_HANDLERS.items()}
    return with_context(in_order, n)
