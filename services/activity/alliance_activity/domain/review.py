"""The review of a reported meeting or public activity (L1 and L2): what callers ask (approve,
return with a comment, resubmit once corrected), who may review a report, and which step goes from
which state. Pure data and rules, no I/O.

    pending ──approve──▶ approved
       │  └───return───▶ returned ──resubmit (corrected, or as it was)──▶ resubmitted
       │                                                                   │
       └───────────────────────── approve / return ◀────────────────────────┘

An approved report is final: a later step on it is refused, and so is a correction of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alliance_shared.contracts.activity import MeetingHeld, PublicActivityHeld
from alliance_shared.contracts.vocabulary import Channel, Ownership, PartyOrgStatus, ReviewState, Role
from alliance_shared.errors import Conflict, Invalid

from .model import Submitted

REVIEWABLE = (MeetingHeld.event_type, PublicActivityHeld.event_type)
UNDER_REVIEW = (ReviewState.PENDING, ReviewState.RESUBMITTED)  # the review queue
REVIEWED = (ReviewState.APPROVED, ReviewState.RETURNED, ReviewState.RESUBMITTED)  # its history
COMMENT_MAX = 1000
# an institution with a Party organisation of its own has a Party admin who reviews its reports
WITH_PARTY_ORG = (PartyOrgStatus.ESTABLISHED_COMPLETE.value, PartyOrgStatus.ESTABLISHED_INCOMPLETE.value)


# -- commands --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApproveSubmission:
    submission_id: str
    comment: str = ""


@dataclass(frozen=True)
class ReturnSubmission:
    submission_id: str
    comment: str  # why: mandatory


@dataclass(frozen=True)
class ResubmitSubmission:
    """Send a returned report again: `correction` is the corrected event (it will supersede the
    returned one); None sends it again as it was, with `comment` answering the reviewer."""

    submission_id: str
    comment: str = ""
    correction: Submitted | None = None
    channel: Channel = Channel.BATCH


# -- refusals --------------------------------------------------------------------------------------
class AlreadyApproved(Conflict):
    code = "already_approved"

    def __init__(self) -> None:
        super().__init__("该上报已审核通过，不能再退回或更正 / the report was already approved", field="submission_id")


class NotUnderReview(Conflict):
    code = "not_under_review"

    def __init__(self, state: ReviewState) -> None:
        super().__init__(
            f"该上报{_STATE_ZH[state]}，不在待审核状态 / the report is {state.value}, not awaiting review",
            field="submission_id",
        )


class NotReturned(Conflict):
    code = "not_returned"

    def __init__(self, state: ReviewState) -> None:
        super().__init__(
            f"只有被退回的上报可以重新提交，该上报{_STATE_ZH[state]} / only a returned report is resubmitted "
            f"(this one is {state.value})",
            field="submission_id",
        )


class ReviewedMeanwhile(Conflict):
    code = "reviewed_meanwhile"

    def __init__(self) -> None:
        super().__init__(
            "该上报刚被他人处理，请刷新后重试 / the report changed meanwhile: reload it", field="submission_id"
        )


_STATE_ZH = {
    ReviewState.PENDING: "待审核",
    ReviewState.APPROVED: "已审核通过",
    ReviewState.RETURNED: "已被退回",
    ReviewState.RESUBMITTED: "已重新提交",
}


def required_comment(text: str) -> str:
    """A return's comment: mandatory, at most `COMMENT_MAX` characters."""
    comment = optional_comment(text)
    if not comment:
        raise Invalid("退回须填写退回意见 / a return needs a comment", field="comment")
    return comment


def optional_comment(text: str) -> str:
    comment = (text or "").strip()
    if len(comment) > COMMENT_MAX:
        raise Invalid(f"意见不能超过 {COMMENT_MAX} 字 / at most {COMMENT_MAX} characters", field="comment")
    return comment


# -- the states ------------------------------------------------------------------------------------
def state_of(record: Mapping[str, Any]) -> ReviewState:
    """A stored record's state (records stored before reviews existed are pending)."""
    try:
        return ReviewState(record.get("review_state") or ReviewState.PENDING.value)
    except ValueError:
        return ReviewState.PENDING


def decided(current: ReviewState, command: ApproveSubmission | ReturnSubmission) -> ReviewState:
    """The state a reviewer's step leads to; a refusal says why not."""
    if current is ReviewState.APPROVED:
        raise AlreadyApproved()
    if current not in UNDER_REVIEW:
        raise NotUnderReview(current)
    return ReviewState.APPROVED if isinstance(command, ApproveSubmission) else ReviewState.RETURNED


def resubmittable(current: ReviewState) -> None:
    if current is ReviewState.APPROVED:
        raise AlreadyApproved()
    if current is not ReviewState.RETURNED:
        raise NotReturned(current)


# -- who reviews -----------------------------------------------------------------------------------
def may_review(role: Role | None, own_institution: str | None, institution: Mapping[str, Any]) -> bool:
    """The institution's Party admin reviews its reports; the secretariat reviews those of emerging
    institutions that have no Party organisation (and so no Party admin) of their own."""
    if role is Role.INSTITUTION_ADMIN:
        return bool(own_institution) and own_institution == institution.get("_id")
    if role is Role.SECRETARIAT:
        return reviewed_by_secretariat(institution)
    return False


def reviewed_by_secretariat(institution: Mapping[str, Any]) -> bool:
    return institution.get("ownership") == Ownership.EMERGING.value and (
        institution.get("party_org_status") not in WITH_PARTY_ORG
    )


def may_resubmit(
    role: Role | None, own_institution: str | None, own_organization: str | None, record: Mapping[str, Any]
) -> bool:
    """The reporting institution resubmits (its systems, its Party admin, the branch's secretary)."""
    reporting = (record.get("institution_id"), record.get("reporter_institution_id"))
    if own_institution is None or own_institution not in reporting:
        return False
    if role is Role.BRANCH_SECRETARY:
        return own_organization == record.get("organization_id")
    return role in (None, Role.INSTITUTION_ADMIN)
