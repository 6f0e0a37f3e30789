"""The review of submissions, on one screen: every command and the use case that carries it out
(registry's idiom). A step loads the accepted record, checks who asks and from which state
(`domain.review`), and stores the new state with the event announcing it in one write; a
resubmission with a correction goes through the one ingestion path first, as every report does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alliance_shared.audit import audit_record
from alliance_shared.auth import Principal
from alliance_shared.clock import SHANGHAI, Clock
from alliance_shared.contracts.activity import SubmissionApproved, SubmissionResubmitted, SubmissionReturned
from alliance_shared.contracts.audit import ActivityActionAudited
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.vocabulary import MEETING_KIND_ZH, MeetingKind, ReviewState, Role, zh
from alliance_shared.errors import Forbidden, Invalid, NotFound

from ..adapters.projection import RegistryProjection
from ..adapters.reviews import ReviewStore
from ..adapters.submissions import SOURCE
from ..domain import review as review_rules
from ..domain.filing import reporter_of
from ..domain.model import Submitted
from .ingestion import IngestReport, IngestSubmissions

TYPE_ZH = {"fpba.meeting.held.v1": "三会一课", "fpba.public_activity.held.v1": "公共活动"}
MAY_NOT_REVIEW = (
    "只有本机构党务管理员可以审核（未建党组织的新兴金融机构由秘书处审核） / only the institution's Party admin "
    "reviews its reports (the secretariat, for emerging institutions without a Party organisation)"
)


@dataclass(frozen=True)
class Reviews:
    """What the review use cases need, as the composition root wired it."""

    store: ReviewStore
    projection: RegistryProjection
    ingest: IngestSubmissions
    clock: Clock


@dataclass(frozen=True)
class Resubmitted:
    """A resubmission's outcome: the record now under review (None: the correction was refused,
    `report` says why) and the ingestion's answer when a correction was sent."""

    record: dict[str, Any] | None
    report: IngestReport | None = None


# -- the steps -------------------------------------------------------------------------------------
async def load_reviewable(ctx: Reviews, submission_id: str) -> dict[str, Any]:
    record = await ctx.store.record(submission_id)
    if record is None:
        raise NotFound("没有该已接收的上报 / no accepted submission with that id", field="submission_id")
    if record.get("type") not in review_rules.REVIEWABLE:
        raise Invalid(
            "只有会议和公共活动需要审核 / only meetings and public activities are reviewed", field="submission_id"
        )
    return record


async def review(
    ctx: Reviews, cmd: review_rules.ApproveSubmission | review_rules.ReturnSubmission, who: Principal
) -> dict[str, Any]:
    """Approve or return a report under review (a return needs its comment)."""
    returning = isinstance(cmd, review_rules.ReturnSubmission)
    comment = review_rules.required_comment(cmd.comment) if returning else review_rules.optional_comment(cmd.comment)
    record = await load_reviewable(ctx, cmd.submission_id)
    institution = await ctx.projection.institution(record["institution_id"]) or {"_id": record["institution_id"]}
    if not review_rules.may_review(who.role, who.institution_id, institution):
        raise Forbidden(MAY_NOT_REVIEW, field="role")
    state = review_rules.decided(review_rules.state_of(record), cmd)
    version = int(record.get("review_version") or 0)
    now = ctx.clock.now()
    common = _fact(record, state, version + 1, who, comment, now)
    payload: SubmissionApproved | SubmissionReturned
    if returning:
        data = (record.get("event") or {}).get("data") or {}
        payload = SubmissionReturned(
            **common,
            reporter=record.get("reporter_key") or record.get("reporter"),
            activity_kind=data.get("meeting_kind") or data.get("kind"),
            held_at=_instant(data.get("held_at")),
        )
    else:
        payload = SubmissionApproved(**common)
    await _step(ctx, record, version, state, _entry(state, version + 1, who, comment, now), payload, who)
    return await load_reviewable(ctx, cmd.submission_id)


async def resubmit(ctx: Reviews, cmd: review_rules.ResubmitSubmission, who: Principal) -> Resubmitted:
    """A returned report sent again: corrected (a new event superseding it, through the ingestion
    path; it is what awaits review now) or as it was (the same record, with the reporter's comment)."""
    comment = review_rules.optional_comment(cmd.comment)
    record = await load_reviewable(ctx, cmd.submission_id)
    if not review_rules.may_resubmit(who.role, who.institution_id, who.organization_id, record):
        raise Forbidden("只有上报单位可以重新提交 / only the reporting institution resubmits", field="submission_id")
    review_rules.resubmittable(review_rules.state_of(record))
    correction = _correcting(cmd.correction, cmd.submission_id)
    if correction is None:  # sent again unchanged (a correction identical to it is the same event)
        await _resubmitted(ctx, record, cmd.submission_id, who, comment)
        return Resubmitted(await load_reviewable(ctx, cmd.submission_id))
    report = await ctx.ingest([correction], cmd.channel, reporter_of(who))
    landed = [a.event.id for a in report.accepted] + [d.event_id for d in report.duplicates]
    if not landed:
        return Resubmitted(None, report)
    new = await load_reviewable(ctx, landed[0])
    if review_rules.state_of(new) is ReviewState.PENDING:  # a retry finds it resubmitted already
        await _resubmitted(ctx, new, cmd.submission_id, who, comment)
        await ctx.store.note(
            cmd.submission_id,
            {"resubmitted_as": new["_id"]},
            _entry(ReviewState.RESUBMITTED, None, who, comment, ctx.clock.now()) | {"as": new["_id"]},
        )
    return Resubmitted(await load_reviewable(ctx, new["_id"]), report)


def _correcting(correction: Submitted | None, returned_id: str) -> Submitted | None:
    """The correction as an event that supersedes the returned one (None: it is the same event)."""
    if correction is None or not isinstance(correction.raw, dict):
        return correction
    if correction.raw.get("id") == returned_id:
        return None
    supersedes = correction.raw.get("supersedes")
    if supersedes not in (None, returned_id):
        raise Invalid("更正须指向被退回的上报 / the correction must supersede the returned report", field="supersedes")
    return Submitted({**correction.raw, "supersedes": returned_id}, correction.label, correction.row, correction.error)


async def _resubmitted(ctx: Reviews, record: dict[str, Any], returned_id: str, who: Principal, comment: str) -> None:
    version = int(record.get("review_version") or 0)
    now = ctx.clock.now()
    state = ReviewState.RESUBMITTED
    payload = SubmissionResubmitted(**_fact(record, state, version + 1, who, comment, now), returned_id=returned_id)
    entry = _entry(state, version + 1, who, comment, now)
    if returned_id != record["_id"]:
        entry["from"] = returned_id
    await _step(ctx, record, version, state, entry, payload, who)


async def _step(
    ctx: Reviews,
    record: dict[str, Any],
    version: int,
    state: ReviewState,
    entry: dict[str, Any],
    payload: SubmissionApproved | SubmissionReturned | SubmissionResubmitted,
    who: Principal,
) -> None:
    event = envelope(payload, source=SOURCE, institutionid=payload.institution_id)
    audited = _audited(record, payload, who)
    fields = {"review_state": state.value, "reviewed_at": entry["at"]}
    events = [(payload, event), (audited, envelope(audited, source=SOURCE, institutionid=payload.institution_id))]
    if not await ctx.store.step(record["_id"], version, fields, entry, events):
        raise review_rules.ReviewedMeanwhile()


def _audited(
    record: dict[str, Any], payload: SubmissionApproved | SubmissionReturned | SubmissionResubmitted, who: Principal
) -> ActivityActionAudited:
    """The step's audit record, announced in the same write (evaluation serves the audit trail):
    who reviewed which report, from where, and no comment (it may name people)."""
    details: dict[str, Any] = {"version": payload.version, "event_type": payload.event_type_submitted}
    if isinstance(payload, SubmissionResubmitted) and payload.returned_id != payload.submission_id:
        details["returned_id"] = payload.returned_id
    audited = audit_record(
        who, service="activity", action=f"submission.{payload.state.value}", object_type="submission",
        object_id=payload.submission_id, at=payload.at, institution_id=payload.institution_id, details=details,
        kind=ActivityActionAudited,
    )  # fmt: skip
    assert isinstance(audited, ActivityActionAudited)
    return audited


def _fact(
    record: dict[str, Any], state: ReviewState, version: int, who: Principal, comment: str, at: datetime
) -> dict[str, Any]:
    return {
        "submission_id": record["_id"],
        "institution_id": record["institution_id"],
        "organization_id": record.get("organization_id"),
        "event_type_submitted": record["type"],
        "state": state,
        "version": version,
        "by": who.subject,
        "by_role": who.role,
        "comment": comment,
        "at": at,
    }


def _entry(state: ReviewState, version: int | None, who: Principal, comment: str, at: datetime) -> dict[str, Any]:
    return {
        "state": state.value,
        "version": version,
        "by": who.subject,
        "by_role": who.role.value if who.role else None,
        "comment": comment,
        "at": at,
    }


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


COMMAND_HANDLERS: dict[type, Callable[[Reviews, Any, Principal], Awaitable[Any]]] = {
    review_rules.ApproveSubmission: review,
    review_rules.ReturnSubmission: review,
    review_rules.ResubmitSubmission: resubmit,
}


async def handle(ctx: Reviews, cmd: object, who: Principal) -> Any:
    """Carry out `cmd` for `who` (the one entry point the routes and the form use)."""
    return await COMMAND_HANDLERS[type(cmd)](ctx, cmd, who)


# -- what reviewers and reporters read -------------------------------------------------------------
async def reviewable_institutions(ctx: Reviews, who: Principal, institution_id: str | None) -> list[str]:
    """The institutions whose reports `who` reviews (narrowed to `institution_id` when given)."""
    if institution_id is not None and not who.is_secretariat and institution_id != who.institution_id:
        raise Forbidden("无权访问其他机构的数据 / not your institution", field="institution_id")
    if who.role is Role.INSTITUTION_ADMIN and who.institution_id:
        ids = [who.institution_id]
    elif who.role is Role.SECRETARIAT:
        ids = [i["_id"] for i in await ctx.projection.institutions() if review_rules.reviewed_by_secretariat(i)]
    else:
        raise Forbidden(MAY_NOT_REVIEW, field="role")
    if institution_id is not None:
        if institution_id not in ids:
            raise Forbidden(MAY_NOT_REVIEW, field="institution_id")
        ids = [institution_id]
    return ids


async def described(ctx: Reviews, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as a reviewer reads them: what was reported, by whom, where it stands, its steps."""
    names: dict[str, str] = {}
    institutions: dict[str, str] = {}
    for inst_id in sorted({d["institution_id"] for d in records if d.get("institution_id")}):
        inst = await ctx.projection.institution(inst_id) or {}
        institutions[inst_id] = str(inst.get("name") or inst_id)
        for org in await ctx.projection.organizations_of(inst_id):
            names[org["_id"]] = str(org.get("name") or org["_id"])
    return [describe(d, names, institutions) for d in records]


def describe(d: dict[str, Any], org_names: dict[str, str], institution_names: dict[str, str]) -> dict[str, Any]:
    data = (d.get("event") or {}).get("data") or {}
    state = review_rules.state_of(d)
    kind = str(data.get("meeting_kind") or data.get("kind") or "")
    try:
        kind_zh = MEETING_KIND_ZH[MeetingKind(kind)]
    except ValueError:
        kind_zh = kind
    held = _instant(data.get("held_at"))
    people = data.get("attendee_ids") if "attendee_ids" in data else data.get("participant_ids")
    return {
        "id": d["_id"],
        "type": d.get("type"),
        "type_zh": TYPE_ZH.get(str(d.get("type")), ""),
        "kind": kind,
        "kind_zh": kind_zh,
        "topic": data.get("topic") or "",
        "held_at": held.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if held else None,
        "people": len(people or []),
        "expected": data.get("expected_count"),
        "hours": data.get("hours"),
        "organization_id": d.get("organization_id"),
        "organization_name": org_names.get(d.get("organization_id") or "", d.get("organization_id") or ""),
        "institution_id": d.get("institution_id"),
        "institution_name": institution_names.get(d.get("institution_id") or "", d.get("institution_id") or ""),
        "channel": d.get("channel"),
        "channel_zh": zh(d.get("channel")),
        "reporter": d.get("reporter_key") or d.get("reporter"),
        "received_at": _local(d.get("received_at")),
        "flags_zh": [zh(f) for f in d.get("flags") or []],
        "state": state.value,
        "state_zh": zh(state.value),
        "superseded_by": d.get("superseded_by"),
        "resubmitted_as": d.get("resubmitted_as"),
        "history": [step_view(s) for s in d.get("review_history") or []],
    }


def step_view(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "state": s.get("state"),
        "state_zh": zh(s.get("state")),
        "by": s.get("by"),
        "by_role_zh": zh(s.get("by_role")) if s.get("by_role") else "上报单位系统",
        "comment": s.get("comment") or "",
        "at": _local(s.get("at")),
        **({"as": s["as"]} if s.get("as") else {}),
        **({"from": s["from"]} if s.get("from") else {}),
    }


def _local(at: Any) -> str | None:
    if not isinstance(at, datetime):
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(SHANGHAI).isoformat(timespec="seconds")
