"""Each of notification's event handlers through its table (`handlers.bound_handlers`) over
in-memory repositories (`fakes.py`): which case it opens, which reminder and deliveries follow,
what a report closes, what the escalation moves — no Kafka, no store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alliance_notification.domain import rules as rulebook
from alliance_notification.handlers import EVENT_HANDLERS, advance_escalations, apply_reports, bound_handlers
from alliance_shared.contracts import activity as act
from alliance_shared.contracts import evaluation
from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.registry import Contact
from alliance_shared.contracts.vocabulary import MeetingKind, OrganizationKind

from .fakes import FakeStore, notifier

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
SEALED = Contact(name="王书记", email_sealed="sealed:x", email_masked="w***@example.cn")


async def handle(n: Any, payload: EventPayload, **extensions: Any) -> None:
    await bound_handlers(n)[type(payload)](payload, envelope(payload, source="/test", **extensions))


def fell_behind(org: str = "org-1", status: str = "lagging") -> evaluation.BranchFellBehind:
    return evaluation.BranchFellBehind(organization_id=org, institution_id="inst-a", status=status, period="2026-Q4",
                               days_since_last_meeting=75, detected_at=NOW)


def deliveries_of(store: FakeStore, case_id: str) -> list[dict[str, Any]]:
    return sorted((d for d in store.deliveries.docs.values() if d["case_id"] == case_id), key=lambda d: d["channel"])


async def test_a_lagging_branch_opens_one_case_whose_first_step_reminds_its_secretary_by_email_and_sms() -> None:
    n, store, _ = notifier(NOW)
    await handle(n, fell_behind())
    case_id = f"{rulebook.LAGGING}|org-1|2026-Q4"
    case = store.cases.docs[case_id]
    assert (case["status"], case["step"], case["next_step_at"]) == ("open", "secretary", NOW + timedelta(days=14))
    assert [(d["channel"], d["status"], d["audience"]) for d in deliveries_of(store, case_id)] == [
        ("email", "queued", "branch_secretary"), ("sms", "queued", "branch_secretary")
    ]
    assert len(store.deliveries.events) == 2  # each delivery is announced with its creation


async def test_the_same_event_twice_makes_one_case_one_reminder_and_the_same_deliveries() -> None:
    n, store, _ = notifier(NOW)
    await handle(n, fell_behind())
    await handle(n, fell_behind())
    assert (len(store.cases.docs), len(store.reminders.docs), len(store.deliveries.docs)) == (1, 1, 2)


async def test_an_at_risk_branch_gets_one_early_reminder_with_no_escalation() -> None:
    n, store, _ = notifier(NOW)
    await handle(n, fell_behind(status="at_risk"))
    (case,) = store.cases.docs.values()
    assert (case["rule"], case["step_index"], case["next_step_at"]) == (rulebook.AT_RISK, 1, None)


async def test_a_report_closes_the_case_cancels_what_is_not_sent_and_answers_the_reminder() -> None:
    n, store, _ = notifier(NOW)
    await handle(n, fell_behind())
    reported = NOW + timedelta(days=2)
    await handle(n, act.MeetingHeld(organization_id="org-1", meeting_kind=MeetingKind.BRANCH_GENERAL_MEETING,
                                    held_at=reported, expected_count=8), receivedat=reported)
    assert n.reports and store.cases.docs[f"{rulebook.LAGGING}|org-1|2026-Q4"]["status"] == "open"  # gathered
    await apply_reports(n)  # the consumer's batch end
    case = store.cases.docs[f"{rulebook.LAGGING}|org-1|2026-Q4"]
    assert (case["status"], case["resolved_by"]) == ("resolved", "meeting_reported")
    assert {d["status"] for d in store.deliveries.docs.values()} == {"cancelled"}
    assert [r["reported_at"] for r in store.reminders.docs.values()] == [reported]
    assert n.reports == []


async def test_a_branch_that_caught_up_closes_its_case_at_the_batch_end() -> None:
    n, store, _ = notifier(NOW)
    await handle(n, fell_behind())
    await handle(n, evaluation.BranchCaughtUp(organization_id="org-1", institution_id="inst-a",
                                              previous_status="lagging", period="2026-Q4",
                                              caught_up_at=NOW + timedelta(days=1)))
    await apply_reports(n)
    assert store.cases.docs[f"{rulebook.LAGGING}|org-1|2026-Q4"]["resolved_by"] == "caught_up"


async def test_an_unanswered_case_climbs_to_the_committee_after_14_days_then_the_secretariat() -> None:
    n, store, clock = notifier(NOW)
    await handle(n, fell_behind())
    clock.advance(timedelta(days=14, hours=1))
    assert await advance_escalations(n) == 1
    case = store.cases.docs[f"{rulebook.LAGGING}|org-1|2026-Q4"]
    assert (case["step"], case["next_step_at"]) == ("committee", NOW + timedelta(days=30))
    assert await advance_escalations(n) == 0  # nothing more is due yet
    clock.advance(timedelta(days=16))
    assert await advance_escalations(n) == 1
    assert store.cases.docs[case["_id"]]["step"] == "secretariat"
    assert sorted(r["step"] for r in store.reminders.docs.values()) == ["committee", "secretariat", "secretary"]


async def test_missing_reports_near_the_quarter_end_are_named_in_the_reminder() -> None:
    n, store, _ = notifier(NOW)
    await handle(n, evaluation.ReportsMissing(organization_id="org-1", institution_id="inst-a", period="2026-Q4",
                                      missing=["branch_general_meeting"], due_on=date(2026, 12, 31), detected_at=NOW))
    (reminder,) = store.reminders.docs.values()
    assert reminder["rule"] == rulebook.REPORTS_MISSING and reminder["context"]["due_on"] == "2026-12-31"
    assert reminder["context"]["missing"] == ["支部党员大会"]  # named in Chinese


async def test_rejected_submissions_of_a_day_gather_into_one_reminder_with_their_reasons() -> None:
    n, store, _ = notifier(NOW)
    for n_sub in range(3):
        await handle(n, act.SubmissionRejected(
            submission_id=f"s-{n_sub}", institution_id="inst-a", channel="upload",
            reasons=[act.RejectionReason(field="held_at", reason="日期不能晚于今天 / held_at is in the future")],
            received_at=NOW,
        ))  # fmt: skip
    (reminder,) = store.reminders.docs.values()
    assert reminder["context"]["rejected_count"] == 3
    assert [r["submission_id"] for r in reminder["context"]["reasons"]] == ["s-0", "s-1", "s-2"]
    first = reminder["context"]["reasons"][0]
    assert (first["reason_zh"], first["reason_en"]) == ("召开时间：日期不能晚于今天", "held_at is in the future")


async def test_each_return_of_a_report_is_told_once() -> None:
    n, store, _ = notifier(NOW)
    returned = act.SubmissionReturned(
        submission_id="s-9", institution_id="inst-a", organization_id="org-1",
        event_type_submitted=act.MeetingHeld.event_type, state="returned", version=1, by="admin-a",
        comment="请补充签到表", at=NOW, activity_kind="branch_committee_meeting", held_at=NOW - timedelta(days=3),
    )  # fmt: skip
    await handle(n, returned)
    await handle(n, returned)
    await handle(n, returned.model_copy(update={"version": 2}))
    assert sorted(c["period"] for c in store.cases.docs.values()) == ["s-9#1", "s-9#2"]


async def test_an_overdue_transfer_reminds_both_organisations_by_name() -> None:
    n, store, _ = notifier(NOW)
    await store.contacts.upsert_organization("org-1", {"name": "第一党支部"}, None)
    await handle(n, reg.TransferOverdue(
        transfer_id="t-1", member_id="m-1", institution_id="inst-a", from_organization_id="org-1",
        to_organization_id="org-9", to_institution_id="inst-b", requested_at=NOW - timedelta(days=40),
        deadline=date(2026, 11, 10), days_overdue=6,
    ))  # fmt: skip
    assert sorted(c["organization_id"] for c in store.cases.docs.values()) == ["org-1", "org-9"]
    context = next(iter(store.cases.docs.values()))["context"]
    assert (context["from_organization_name"], context["to_organization_name"]) == ("第一党支部", "org-9")


async def test_a_contact_that_arrives_wakes_the_deliveries_that_waited_for_one() -> None:
    n, store, clock = notifier(NOW)
    await handle(n, fell_behind())
    for d in store.deliveries.docs.values():
        d.update(waiting_contact=True, due_at=NOW + timedelta(hours=6))
    clock.advance(timedelta(minutes=5))
    await handle(n, reg.OrganizationUpdated(organization_id="org-1", institution_id="inst-a",
                                            institution_ids=["inst-a"], name="第一党支部", secretary=SEALED))
    assert {d["due_at"] for d in store.deliveries.docs.values()} == {NOW + timedelta(minutes=5)}
    assert store.contacts.docs["org:org-1"]["contact"]["email_masked"] == "w***@example.cn"


async def test_an_opened_organisation_and_a_registered_institution_become_contacts() -> None:
    n, store, _ = notifier(NOW)
    await handle(n, reg.OrganizationOpened(organization_id="org-2", institution_id="inst-a", institution_ids=["inst-a"],
                                           name="第二党支部", kind=OrganizationKind.BRANCH,
                                           established_at=date(2021, 7, 1), secretary=SEALED))
    classification = reg.InstitutionClassification(ownership="state_owned", party_org_status="established_complete",
                                                    reporting_level="L2")
    await handle(n, reg.InstitutionRegistered(institution_id="inst-a", uscc="91440300MA5XXXXX0A", name="甲银行",
                                              classification=classification, effective_from=date(2026, 1, 1)))
    await handle(n, reg.InstitutionReclassified(institution_id="inst-a", name="甲银行（深圳）",
                                                classification=classification, previous=classification,
                                                effective_from=date(2026, 10, 1)))
    assert store.contacts.docs["org:org-2"]["org_kind"] == "branch"
    assert store.contacts.docs["inst:inst-a"]["name"] == "甲银行（深圳）"


def test_the_table_answers_every_fact_that_reminds_or_closes() -> None:
    assert set(EVENT_HANDLERS) == {
        evaluation.BranchFellBehind, evaluation.BranchCaughtUp, evaluation.ReportsMissing, act.SubmissionRejected,
        act.SubmissionReturned, act.MeetingHeld, reg.OrganizationOpened, reg.OrganizationUpdated,
        reg.InstitutionRegistered, reg.InstitutionReclassified, reg.TransferOverdue,
    }  # fmt: skip
