"""What the L1 form shows a branch secretary: the branches they report for, and one branch's sheet —
its roll by name, this quarter's reported meetings with where each stands in its review, and what
it still owes (支部党员大会 once a quarter, 支部委员会 monthly, …)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.clock import SHANGHAI
from alliance_shared.contracts.vocabulary import (
    MEETING_KIND_ZH,
    MeetingKind,
    MemberStatus,
    OrganizationKind,
    ReviewState,
    Role,
    zh,
)
from alliance_shared.errors import Forbidden

from ..adapters.registry_names import RosterNames
from ..domain.assessment import superiors
from ..domain.filing import reporter_of
from ..domain.model import Organization
from ..domain.obligations import owed_this_quarter, quarter_window
from ..domain.review import state_of as review_state_of
from .unit import ActivityUnit


def branches_of(orgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The open, meeting-holding organisations among `orgs`, by name."""
    out = []
    for o in orgs:
        try:
            kind = OrganizationKind(o.get("kind") or "")
        except ValueError:
            continue
        if kind.holds_meetings and not o.get("closed_at"):
            out.append({"id": o["_id"], "name": o.get("name") or "", "kind": zh(kind.value)})
    return sorted(out, key=lambda b: str(b["name"]))


async def my_branches(unit: ActivityUnit, who: Principal) -> list[dict[str, Any]]:
    reporter = reporter_of(who)
    if reporter.role not in (Role.BRANCH_SECRETARY, Role.INSTITUTION_ADMIN) or not reporter.institution_id:
        raise Forbidden("只有支部书记和机构党务管理员使用填报表单 / the form is for branch secretaries", field="role")
    orgs = await unit.projection.organizations_of(reporter.institution_id)
    branches = branches_of(orgs)
    if reporter.organization_id:  # a secretary reports for their own branch and the branches under it
        tree = {o["_id"]: Organization(o["_id"], (), date.min, parent_id=o.get("parent_id")) for o in orgs}
        branches = [b for b in branches if reporter.organization_id in superiors(tree, b["id"])]
    return branches


async def branch_sheet(
    unit: ActivityUnit, names_of: RosterNames, user: Principal, organization_id: str, bearer: str, now: datetime
) -> dict[str, Any]:
    """One branch as the form shows it: its roll by name, this quarter's reported meetings and what
    it still owes (支部党员大会 once a quarter, 支部委员会 monthly, …)."""
    if organization_id not in {b["id"] for b in await my_branches(unit, user)}:
        raise Forbidden("只能填报本人负责的党支部 / not a branch you report for", field="organization_id")
    org = await unit.projection.organization(organization_id) or {}
    roll = await unit.projection.roll(organization_id)
    if user.role is not Role.BRANCH_SECRETARY:  # in a joint branch, an institution reports its own people
        roll = [m for m in roll if m.get("institution_id") == user.institution_id]
    names = await names_of.of(organization_id, bearer)
    members = []
    for m in roll:
        try:
            status = MemberStatus(m.get("status") or "")
        except ValueError:
            continue
        members.append({
            "id": m["_id"],
            "name": (names or {}).get(m["_id"]) or "",
            "status": zh(status.value),
            "party_member": status.is_party_member,
        })
    members.sort(key=lambda m: (not m["party_member"], m["name"] or "\uffff", m["id"]))
    today = now.astimezone(SHANGHAI).date()
    quarter = quarter_window(today)
    reported, held = [], []
    for doc in await unit.submissions.meetings_of(organization_id, org.get("institution_ids") or []):
        data = (doc.get("event") or {}).get("data") or {}
        try:
            at = datetime.fromisoformat(str(data.get("held_at"))).astimezone(SHANGHAI)
            kind = MeetingKind(str(data.get("meeting_kind")))
        except ValueError:
            continue
        if not quarter.start <= at.date() <= quarter.end:
            continue
        if review_state_of(doc) is not ReviewState.RETURNED:  # a returned meeting is owed until resubmitted
            held.append((kind, at.date()))
        reported.append({
            "id": doc["_id"],
            "kind": MEETING_KIND_ZH[kind],
            "held_at": at.strftime("%Y-%m-%d %H:%M"),
            "attendees": len(data.get("attendee_ids") or []),
            "channel": zh(doc.get("channel") or ""),
            "flags": [zh(f) for f in doc.get("flags") or []],
            "review": _review(doc, data, kind, at),
        })
    reported.sort(key=lambda r: r["held_at"], reverse=True)
    owed = owed_this_quarter(
        today,
        opened=_day(org.get("established_at")) or date.min,
        closed=_day(org.get("closed_at")),
        has_party_groups=bool(org.get("has_party_groups")),
        held=held,
    )
    return {
        "id": organization_id,
        "name": org.get("name") or "",
        "quarter": quarter.label,
        "today": today.isoformat(),
        "roll": members,
        "names_known": names is not None,
        "reported": reported,
        "owed": [
            {
                "kind": o.kind_zh,
                "window": o.window.label,
                "due": f"{o.window.end.month}月{o.window.end.day}日",
                "standing": o.standing.value,
                "standing_zh": o.standing.zh,
            }
            for o in owed
        ],
    }


def _review(doc: dict[str, Any], data: dict[str, Any], kind: MeetingKind, at: datetime) -> dict[str, Any]:
    """Where the meeting stands in its review; a returned one carries the reviewer's comment and
    what was reported, for the form to correct and resubmit."""
    state = review_state_of(doc)
    steps = doc.get("review_history") or []
    last_return = next((s for s in reversed(steps) if s.get("state") == ReviewState.RETURNED.value), None)
    out: dict[str, Any] = {"state": state.value, "state_zh": zh(state.value)}
    if state is ReviewState.RETURNED:
        out |= {
            "comment": (last_return or {}).get("comment") or "",
            "by_role_zh": zh((last_return or {}).get("by_role")),
            "reported": {
                "meeting_kind": kind.value,
                "day": at.date().isoformat(),
                "hour": at.strftime("%H"),
                "minute": at.strftime("%M"),
                "attendee_ids": list(data.get("attendee_ids") or []),
                "expected_count": data.get("expected_count"),
                "topic": data.get("topic") or "",
            },
        }
    return out


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)) if value else None
