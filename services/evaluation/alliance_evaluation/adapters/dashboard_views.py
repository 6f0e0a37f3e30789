"""The dashboard's questions that the unified view API does not answer on its own: the trend over
past quarters, rankings within a peer group (sortable, searchable, ranked by score inside the
group), the heat map of organisational-life meetings per branch per month, and the lagging work
queue with its reminders and the secretariat's follow-up record.

Every answer reads pre-computed documents: the `overview` and the quarter's rank rows (held in
memory until the quarter is rescored, see `adapters.ranks`), then only the page's own documents by
`_id` (`lagging`, `deliveries`, `follow_ups`, `organizations`): after the first read of a quarter,
the cost of a screen depends on the page size, not on the size of the alliance.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from alliance_shared.contracts.vocabulary import zh

from ..domain import peers
from ..domain.periods import Period
from ..domain.scoring import BRANCH_KINDS
from . import ranks
from .projections import Projections
from .readmodels import ReadModels, page_of_queue
from .views import NO_DATA, lagging_row

Doc = dict[str, Any]

SORTS = {"score", "name", "completeness", "timeliness", "object_id"}
MEETING = "fpba.meeting.held.v1"
HEAT_MONTHS = 12
HISTORY_SHOWN = 20  # follow-up versions shown with a queue row (all are kept)


def quarters_back(period: str, n: int) -> list[str]:
    """`n` quarters ending with `period`, oldest first."""
    p = Period.parse(period)
    out = [p]
    while len(out) < n:
        out.append(out[-1].previous())
    return [str(q) for q in reversed(out)]


def months_back(period: str, n: int = HEAT_MONTHS) -> list[str]:
    """`n` months ending with the period's last month, oldest first (`2026-09`)."""
    end = Period.parse(period).end
    y, m = end.year, end.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return list(reversed(out))


async def periods(models: ReadModels, today: date) -> list[str]:
    """Quarters that have an overview and have started by `today`, newest first (an event dated in
    a later quarter never puts that quarter in the selector)."""
    return sorted((p for p in await models.overview_periods() if Period.parse(p).start <= today), reverse=True)


# -- trend --------------------------------------------------------------------------------------
def _average_score(doc: Doc) -> float | None:
    parts = [
        (c["average_score"], c["institutions"]) for c in doc.get("by_class", []) if c.get("average_score") is not None
    ]
    n = sum(w for _, w in parts)
    return round(sum(v * w for v, w in parts) / n, 2) if n else None


async def trend(models: ReadModels, period: str, quarters: int) -> dict[str, Any]:
    """The alliance's overview numbers for the last `quarters` quarters (missing ones as nulls)."""
    wanted = quarters_back(period, quarters)
    docs = await models.overviews(
        wanted, {"by_class": 1, "institutions": 1, "completeness": 1, "timeliness": 1, "grades": 1, "vetoed": 1}
    )
    items = []
    for p in wanted:
        d = docs.get(p)
        items.append(
            {
                "period": p,
                "institutions": d.get("institutions") if d else None,
                "average_score": _average_score(d) if d else None,
                "completeness": d.get("completeness") if d else None,
                "timeliness": d.get("timeliness") if d else None,
                "grades": d.get("grades") if d else None,
                "vetoed": d.get("vetoed") if d else None,
            }
        )
    return {"scope": "alliance", "items": items}


async def institution_trend(models: ReadModels, period: str, institution_id: str, quarters: int) -> dict[str, Any]:
    """One institution's score over the last `quarters` quarters."""
    wanted = quarters_back(period, quarters)
    keys = [f"{p}|institution|{institution_id}" for p in wanted]
    fields = {"period": 1, "score": 1, "grade": 1, "completeness": 1, "timeliness": 1}
    docs = {d["period"]: d for d in (await models.scores_by_keys(keys, fields)).values()}
    items = [
        {
            "period": p,
            "score": docs[p].get("score") if p in docs else None,
            "grade": docs[p].get("grade") if p in docs else None,
            "completeness": docs[p].get("completeness") if p in docs else None,
            "timeliness": docs[p].get("timeliness") if p in docs else None,
        }
        for p in wanted
    ]
    return {"scope": "institution", "institution_id": institution_id, "items": items}


# -- rankings -----------------------------------------------------------------------------------


async def rankings(
    models: ReadModels,
    period: str,
    level: str,
    peer: Doc,
    q: str | None,
    sort: str,
    descending: bool,
    page: int,
    page_size: int,
    grouping: str = peers.DEFAULT_GROUPING,
) -> dict[str, Any]:
    """A page of the ranking, group by group (同类组: the ownership class by default, narrowed by
    sector and reporting level on request; `all`: one list, labelled as not a peer ranking). `rank`
    is the competition rank by score inside the row's group (1 + how many in it score higher),
    whatever the sort order and the search; 待评 rows are in their group, after it, unranked."""
    quarter = await models.ranks.quarter(period)
    group = [r for r in quarter.rows(level) if ranks.matches(r, peer)]
    places = peers.standings(group, grouping, _no_data)
    found = [r for r in group if ranks.searched(r, q)]
    start = (page - 1) * page_size
    rows = _by_group(ranks.ordered(found, sort, descending), places)[start : start + page_size]
    items = [_ranked(r, places[r["id"]]) for r in rows]
    return {
        "items": items,
        "total": len(found),
        "group_size": len(group),
        "grouping": grouping,
        "rank_label": peers.RANK_LABEL[grouping != "all"],
        "groups": [g.as_dict() for g in peers.groups_of(places)],
        "page": page,
        "page_size": page_size,
    }


def _ranked(r: Doc, place: peers.Standing) -> Doc:
    return {
        "id": r["id"],
        "rank": place.rank,
        **{k: r.get(k) for k in ranks.RANK_FIELDS},
        "group": place.group.as_dict(),
        "group_rank": place.rank,
        "group_size": place.group.size,
    }


async def ranking_rows(
    models: ReadModels,
    period: str,
    level: str,
    peer: Doc,
    q: str | None,
    limit: int,
    grouping: str = peers.DEFAULT_GROUPING,
) -> list[Doc]:
    """All rows of a (filtered) ranking, group by group and best first in each, for an export."""
    quarter = await models.ranks.quarter(period)
    group = [r for r in quarter.rows(level) if ranks.matches(r, peer)]
    places = peers.standings(group, grouping, _no_data)
    found = [r for r in group if ranks.searched(r, q)]
    return [
        {
            "object_id": r["id"],
            **{k: r.get(k) for k in ranks.RANK_FIELDS},
            "group": places[r["id"]].group.key,
            "group_size": places[r["id"]].group.size,
            "rank": places[r["id"]].rank,
        }
        for r in _by_group(ranks.ordered(found, "score", True), places)[:limit]
    ]


def _by_group(rows: list[Doc], places: dict[str, peers.Standing]) -> list[Doc]:
    """Group by group in reading order, each in the order given, 待评 rows after its judged ones."""
    return sorted(rows, key=lambda r: (peers.group_order(places[r["id"]].group.dimensions), _no_data(r)))


def _no_data(row: Doc) -> bool:
    return row.get("grade") == NO_DATA


# -- heat map -----------------------------------------------------------------------------------
HEAT_SPANS = {"quarter": 3, "trailing_12": HEAT_MONTHS}  # the chosen quarter's months, or the 12 ending with it


async def heatmap(
    models: ReadModels,
    projections: Projections,
    period: str,
    institution_id: str | None,
    q: str | None,
    page: int,
    page_size: int,
    span: str = "quarter",
) -> dict[str, Any]:
    """Organisational-life meetings per branch per month, for a page of branches: the months of the
    period (`span` quarter) or the 12 months ending with it (`trailing_12`; each earlier quarter's
    counts come from its own rank rows). Each branch says its kind and its institutions by name."""
    months = months_back(period, HEAT_SPANS[span])
    quarter = await models.ranks.quarter(period)
    peer = {"institution_ids": institution_id} if institution_id else {}
    found = [
        r for r in quarter.branches if r.get("kind") in BRANCH_KINDS and ranks.matches(r, peer) and ranks.searched(r, q)
    ]
    start = (page - 1) * page_size
    rows = found[start : start + page_size]  # already in id order
    earlier = [await models.ranks.quarter(p) for p in quarters_back(period, len(months) // 3)[:-1]]
    names = await _institution_names(projections, quarter, rows)
    items = []
    for r in rows:
        counts: dict[str, int] = {}
        lasts = [r.get("last_meeting_on")]
        for other in earlier:  # each quarter counts its own three months
            row = other.branch(r["id"]) or {}
            counts |= row.get("meetings") or {}
            lasts.append(row.get("last_meeting_on"))
        counts |= r.get("meetings") or {}
        covered = _institutions_of(r)
        items.append(
            {
                "organization_id": r["id"],
                "name": r.get("name"),
                "kind": r.get("kind"),
                "institution_id": covered[0] if covered else None,
                "institution_name": names.get(covered[0]) if covered else None,
                "institutions": [{"id": i, "name": names.get(i)} for i in covered],
                "opened": r.get("opened"),
                "closed": r.get("closed"),
                "last_meeting_on": max((d for d in lasts if d), default=None),
                "counts": [counts.get(m, 0) for m in months],
            }
        )
    return {
        "span": span,
        "months": months,
        "items": items,
        "total": len(found),
        "page": page,
        "page_size": page_size,
    }


def _institutions_of(row: Doc) -> list[str]:
    return [i for i in (row.get("institution_ids") or [row.get("institution_id")]) if i]


async def _institution_names(
    projections: Projections, quarter: ranks.Quarter, rows: list[Doc]
) -> dict[str, str | None]:
    """The institutions of a page of branches by name: the quarter's rank rows name every scored
    institution; one `_id` `$in` on the registry's projection names any other (a joint branch's
    partner the quarter did not score)."""
    wanted = {i for r in rows for i in _institutions_of(r)}
    names = {r["id"]: r.get("name") for r in quarter.institutions if r["id"] in wanted and r.get("name")}
    missing = sorted(wanted - set(names))
    return names | await projections.names("institutions", missing) if missing else names


# -- branches attached from other institutions (挂靠建) ----------------------------------------------
async def attached_branches(
    models: ReadModels, projections: Projections, period: str, institution_id: str, reads_all: bool
) -> dict[str, Any]:
    """The branches of other institutions attached to this institution's committees or general
    branches (挂靠党支部, 四(三)1): listed in the host's tree with their kind, their own institution
    and the organisation they are attached to. They are scored with their own institution; their
    score and grade are shown to those who read every institution."""
    docs = await projections.attached_from_elsewhere(institution_id)
    quarter = await models.ranks.quarter(period)
    names = await projections.names("institutions", sorted({i for d in docs for i in d.get("institution_ids") or []}))
    items = []
    for d in docs:
        row = quarter.branch(d["_id"]) or {}
        items.append(
            {
                "organization_id": d["_id"],
                "name": d.get("name"),
                "kind": d.get("kind"),
                "parent_id": d.get("parent_id"),
                "parent_name": d.get("parent_name"),
                "institutions": [{"id": i, "name": names.get(i)} for i in d.get("institution_ids") or []],
                "opened": d.get("opened"),
                "closed": d.get("closed"),
                **({"score": row.get("score"), "grade": row.get("grade")} if reads_all else {}),
            }
        )
    return {"period": period, "institution_id": institution_id, "items": items}


# -- the lagging work queue ---------------------------------------------------------------------
async def work_queue(
    models: ReadModels,
    projections: Projections,
    institution_id: str | None, status: str | None, page: int, page_size: int
) -> dict[str, Any]:
    """Lagging and at-risk branches, longest silence first, each with its reminders (latest
    status per delivery) and the secretariat's follow-up record."""
    everyone = await models.lagging_queue.items()
    docs, total = page_of_queue(everyone, institution_id, status, (page - 1) * page_size, page_size)
    return {"items": await queue_rows(models, projections, docs), "total": total, "page": page, "page_size": page_size}


async def queue_rows(models: ReadModels, projections: Projections, docs: list[Doc]) -> list[Doc]:
    org_ids = [d["_id"] for d in docs]
    inst_ids = sorted({d["institution_id"] for d in docs if d.get("institution_id")})
    names = await projections.names("organizations", org_ids)
    inst_names = await projections.names("institutions", inst_ids)
    deliveries = await models.deliveries_for(org_ids)
    follow_ups = await models.follow_ups(org_ids)
    return [
        {
            **lagging_row(d, deliveries.get(d["_id"], [])),
            "name": names.get(d["_id"]),
            "institution_name": inst_names.get(d.get("institution_id") or ""),
            "follow_up": follow_up_public(f) if (f := follow_ups.get(d["_id"])) else {"version": 0},
        }
        for d in docs
    ]


def follow_up_public(f: Doc) -> Doc:
    return {
        "version": f.get("version", 0),
        "contacted": f.get("contacted", False),
        "contacted_on": f.get("contacted_on"),
        "reason": f.get("reason", ""),
        "promised_on": f.get("promised_on"),
        "note": f.get("note", ""),
        "updated_by": f.get("updated_by"),
        "updated_at": f.get("updated_at"),
        # newest first: who saved, when, and each field's value before and after
        "history": [
            {"version": h.get("version"), "by": h.get("by"), "at": h.get("at"), "changes": h.get("changes") or {}}
            for h in reversed(f.get("history") or [])
        ][:HISTORY_SHOWN],
    }


# -- data quality -------------------------------------------------------------------------------
EVENT_KINDS = {  # an activity type → the code its Chinese name is shown by (a meeting: its kind)
    "fpba.learning.completed.v1": "learning",
    "fpba.dues.paid.v1": "dues",
    "fpba.public_activity.held.v1": "public_activity",
    "fpba.compliance.incident.v1": "compliance",
    "fpba.social_contribution.reported.v1": "social_contribution",
}


async def data_quality(
    projections: Projections, period: str, institution_id: str, flag: str | None, page: int, page_size: int
) -> dict[str, Any]:
    """The institution's events of `period` that activity flagged at ingest: how many of each kind
    of flag (most first), and a page of the events themselves (those of `flag`, or all), each with
    its branch, its day and every flag it carries."""
    docs = await projections.flagged_activities(Period.parse(period), institution_id)
    by_flag: dict[str, int] = {}
    events = []
    for d in docs:
        flags = [f for f in str(d["flags"]).split(",") if f]
        for f in flags:
            by_flag[f] = by_flag.get(f, 0) + 1
        if flag is None or flag in flags:
            events.append(
                {
                    "id": d["_id"],
                    "type": d.get("type"),
                    "kind": d.get("kind") or EVENT_KINDS.get(d.get("type") or "", d.get("type")),
                    "organization_id": d.get("organization_id"),
                    "member_id": d.get("member_id"),
                    "day": d.get("held_on") or d.get("day") or d.get("month") or d.get("occurred_on"),
                    "flags": [{"flag": f, "label": zh(f)} for f in flags],
                    "channel": d.get("channel"),
                    "received_at": d.get("received_at"),
                }
            )
    events.sort(key=lambda e: (e["day"] or "", e["id"]), reverse=True)
    start = (page - 1) * page_size
    return {
        "period": period,
        "institution_id": institution_id,
        "flagged_events": len(docs),
        "kinds": [
            {"flag": f, "label": zh(f), "events": n} for f, n in sorted(by_flag.items(), key=lambda x: (-x[1], x[0]))
        ],
        "flag": flag,
        "items": events[start : start + page_size],
        "total": len(events),
        "page": page,
        "page_size": page_size,
    }
