"""The unified view's read side (cosmicpython's views.py): answers built from read models that the
consumers and the rescorer keep up to date — never joins computed per request.

Read models (database `evaluation`, one document per question), for the dashboard too:
- `scores`   `_id` "<period>|<institution|branch>|<id>": a rendered score card — `score`, `grade`,
  `vetoed`, `ruleset`, `breakdown` [{indicator, value, requirement, weight, base_weight, points,
  evidence, evidence_count, details, note}], `completeness`, `timeliness` (0–100), `missing`,
  `members`, `member_days`, `name`, `sector`, `ownership`, `reporting_level`, `institution_ids`,
  `computation_id`, `digest`, `computed_at`; institutions add `branches` [{organization_id, name,
  score, grade, member_days}], `branch_count`, `joint_branch_count`, `coverage`; branches add
  `kind` and `org_life` (0–100). Read by `_id` (drill-downs) and by period (exports).
- `ranks` `_id` "<period>|<institution>": per quarter, the institution's ranking row and its
  branches' rows with meetings per month — what the overview, rankings and heat map read
  (`adapters.ranks`).
- `computations` `_id` computation id: every distinct result (`card` with branches, `previous`,
  `trigger`, `computed_at`): what `?compare=` and `/changes` diff.
- `overview` `_id` period: counts by ownership × reporting level, completeness/timeliness,
  grade distribution, coverage, rejections — refreshed after each rescore.
- `lagging` `_id` organisation id: `status` (lagging | at_risk | null), `days_since_last_meeting`,
  `last_meeting_on`, `org_life`, `since`, `institution_id(s)`, `checked_at`.
- `deliveries` `_id` delivery id: the latest status of each reminder and its `history`.
- `periods` `_id` period: `status` (closed), `closed_at`, `closed_by`, `late_events`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from ..domain import maturity, peers
from ..domain.changes import explain
from ..domain.errors import UnknownComputation, UnknownInstitution, UnknownOrganization
from ..domain.results import standing
from ..domain.ruleset import Ruleset
from ..domain.scoring import BRANCH_KINDS
from . import ranks
from .readmodels import ReadModels, score_key

GRADES = ("excellent", "good", "pass", "fail")  # the distribution; 待评 (no_data) is counted apart
NO_DATA = "no_data"


def _avg(values: list[Any]) -> float | None:
    present = sorted(v for v in values if v is not None)
    return round(sum(present) / len(present), 2) if present else None


def build_overview(
    period: str, documents: list[dict[str, Any]], rejections: dict[str, int], at: datetime,
    ruleset: Ruleset | None = None,
) -> dict[str, Any]:
    """The quarter's overview from its rank documents (an institution's row and its branches' rows).
    Coverage counts each branch once: a joint branch covers several institutions and its members
    are in each one's own coverage, so summing the institutions' figures counted them again."""
    cards = [d["institution"] for d in documents]
    branches = [b for d in documents for b in d.get("branches", [])]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for c in cards:
        groups[(c.get("ownership", ""), c.get("reporting_level", ""))].append(c)
    by_class = []
    for (ownership, level), items in sorted(groups.items()):
        by_class.append(
            {
                "ownership": ownership,
                "reporting_level": level,
                "institutions": len(items),
                "completeness": _avg([c.get("completeness") for c in items]),
                "timeliness": _avg([c.get("timeliness") for c in items]),
                "average_score": _avg([c.get("score") for c in items]),
                "grades": {g: sum(1 for c in items if c.get("grade") == g) for g in GRADES},
                "no_data": sum(1 for c in items if c.get("grade") == NO_DATA),
            }
        )
    days = sorted(str(c["as_of"]) for c in cards if c.get("as_of"))
    provisional = any(c.get("provisional") for c in cards)
    as_of = days[-1] if days else None
    return {
        "_id": period,
        "period": period,
        "as_of": as_of,
        "provisional": provisional,
        "standing": standing(date.fromisoformat(as_of), provisional) if as_of else None,
        "institutions": len(cards),
        "completeness": _avg([c.get("completeness") for c in cards]),
        "timeliness": _avg([c.get("timeliness") for c in cards]),
        "grades": {g: sum(1 for c in cards if c.get("grade") == g) for g in GRADES},
        "no_data": sum(1 for c in cards if c.get("grade") == NO_DATA),
        "vetoed": sum(1 for c in cards if c.get("vetoed")),
        "coverage": {
            "branches": sum(1 for b in branches if b.get("kind") in BRANCH_KINDS and b.get("kind") != "joint_branch"),
            "joint_branches": sum(1 for b in branches if b.get("kind") == "joint_branch"),
            "members": sum(b.get("members") or 0 for b in branches),
            "pocket_members": sum(b.get("pocket_members") or 0 for b in branches),
        },
        "by_class": by_class,
        "rejections": sum(rejections.values()),
        "computed_at": at,
        # L1, L2 and L3 reporters each against their own level's expectation, and how they are compared
        "by_level": maturity.by_level(cards, ruleset) if ruleset else [],
        "maturity_note": maturity.how_compared(ruleset) if ruleset else None,
    }


async def overview(models: ReadModels, period: str) -> dict[str, Any]:
    doc = await models.overview(period)
    if doc is None:
        return build_overview(period, [], {}, datetime.fromtimestamp(0).astimezone())
    doc.pop("_id", None)
    return doc


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("_id", "outbox", "outbox_pending", "outbox_seq", "digest")}
    out["id"] = doc.get("object_id")
    return out


async def ranking(
    models: ReadModels, period: str, level: str, filters: dict[str, Any], page: int, page_size: int
) -> dict[str, Any]:
    """Best first (ties by id); the same rank rows the dashboard pages through."""
    quarter = await models.ranks.quarter(period)
    matching = [r for r in quarter.rows(level) if ranks.matches(r, filters)]
    found = ranks.ordered(matching, "score", True)
    places = peers.standings(matching, peers.DEFAULT_GROUPING, lambda r: r.get("grade") == NO_DATA)
    start = (page - 1) * page_size
    items = [
        {
            "id": r["id"],
            **{k: r.get(k) for k in ranks.RANK_FIELDS},
            "vetoed": r.get("vetoed", False),
            "rank": start + n + 1,
            # its peer group (同类组: the ownership class) and its competition rank there (None: 待评)
            "group": places[r["id"]].group.as_dict(),
            "group_rank": places[r["id"]].rank,
        }
        for n, r in enumerate(found[start : start + page_size])
    ]
    return {"items": items, "total": len(found), "page": page, "page_size": page_size}


async def institution(models: ReadModels, period: str, inst_id: str, compare: str | None) -> dict[str, Any]:
    doc = await models.score(period, "institution", inst_id)
    if doc is None:
        raise UnknownInstitution(inst_id)
    out = _public(doc)
    keys = sorted(score_key(period, "branch", b["organization_id"]) for b in doc.get("branches", []))
    branches = await models.scores_by_keys(keys)
    out["branches"] = [_public(branches[k]) for k in keys if k in branches]
    if compare:
        out["changes"] = await changes(models, period, inst_id, compare)
    return out


async def organization(models: ReadModels, period: str, org_id: str) -> dict[str, Any]:
    doc = await models.score(period, "branch", org_id)
    if doc is None:
        raise UnknownOrganization(org_id)
    return _public(doc)


async def changes(models: ReadModels, period: str, object_id: str, against: str | None) -> dict[str, Any]:
    """Why the current score differs from computation `against` (default: the one before it)."""
    history = await models.computations_of(period, object_id)
    if not history:
        raise UnknownInstitution(object_id)
    current = await models.computation(history[0]["_id"])
    base_id = against or history[0].get("previous")
    if base_id is None:
        return {
            "from": None,
            "to": history[0]["_id"],
            "indicators": [],
            "branches": [],
            "history": [_hist(h) for h in history],
        }
    base = await models.computation(base_id)
    if base is None or base.get("object_id") != object_id:
        raise UnknownComputation(base_id)
    assert current is not None
    return {
        "from": base_id,
        "to": current["_id"],
        **explain(base["card"], current["card"]),
        "history": [_hist(h) for h in history],
    }


def _hist(h: dict[str, Any]) -> dict[str, Any]:
    return {
        "computation_id": h["_id"],
        "score": h.get("score"),
        "grade": h.get("grade"),
        "ruleset": h.get("ruleset"),
        "computed_at": h.get("computed_at"),
        "trigger": h.get("trigger"),
    }


REMINDERS_SHOWN = 10  # a lagging branch's latest deliveries shown with it (all are counted)


def lagging_row(d: dict[str, Any], deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    """A branch on the lagging list, with its latest reminders: the one row the unified view's
    `GET /lagging` and the dashboard's work queue both answer (the queue adds names and the
    follow-up record)."""
    return {
        "organization_id": d["_id"],
        "institution_id": d.get("institution_id"),
        "days_since_last_meeting": d.get("days_since_last_meeting"),
        "status": d.get("status"),
        "last_meeting_on": d.get("last_meeting_on"),
        "org_life": d.get("org_life"),
        "since": d.get("since"),
        "reminders_sent": len(deliveries),
        "reminders": [
            {
                "id": r["_id"],
                "rule": r.get("rule"),
                "channel": r.get("channel"),
                "status": r.get("status"),
                "recipient": r.get("recipient"),  # masked by notification
                "at": r.get("at"),
                "reason": r.get("reason"),  # why it was not delivered (Chinese), if it was not
            }
            for r in deliveries[:REMINDERS_SHOWN]
        ],
    }


async def lagging(models: ReadModels, institution_id: str | None, page: int, page_size: int) -> dict[str, Any]:
    docs, total = await models.lagging_list(institution_id, (page - 1) * page_size, page_size)
    deliveries = await models.deliveries_for([d["_id"] for d in docs])
    items = [lagging_row(d, deliveries.get(d["_id"], [])) for d in docs]
    return {"items": items, "total": total, "page": page, "page_size": page_size}


REVIEWED_TYPES = ("fpba.meeting.held.v1", "fpba.public_activity.held.v1")


def evidence_event(doc: dict[str, Any]) -> dict[str, Any]:
    """An evidence event as an officer opens it: what it says, when and how it arrived, where from."""
    return {
        "id": doc["_id"],
        "type": doc.get("type"),
        "institution_id": doc.get("institution_id"),
        "organization_id": doc.get("organization_id"),
        "period": doc.get("period"),
        "data": doc.get("data"),
        "time": doc.get("time"),
        "received_at": doc.get("received_at"),
        "channel": doc.get("channel"),
        "reporting_level": doc.get("reporting_level"),
        "source": doc.get("source"),
        "late": doc.get("late", False),
        "flags": [f for f in (doc.get("flags") or "").split(",") if f],
        "supersedes": doc.get("supersedes"),
        "superseded_by": doc.get("superseded_by"),
        "provenance": doc.get("provenance") or {},
        "filed_by": doc.get("filed_by"),  # who filed it (an API key id or a person's subject)
        "on_behalf_of": doc.get("on_behalf_of"),  # 上级代办: the branch a superior filed it for
        # a meeting or public activity is reviewed by the institution's Party admin (activity's review)
        "review": {"state": doc.get("review_state") or "pending", "history": doc.get("review_history") or []}
        if doc.get("type") in REVIEWED_TYPES
        else None,
    }
