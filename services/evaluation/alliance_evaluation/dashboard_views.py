"""The dashboard's questions that the unified view API does not answer on its own: the trend over
past quarters, rankings within a peer group (sortable, searchable, ranked by score inside the
group), the heat map of organisational-life meetings per branch per month, and the lagging work
queue with its reminders and the secretariat's follow-up record.

Every answer reads pre-computed documents (`overview`, `scores`, `lagging`, `deliveries`,
`follow_ups`, and the `organizations`/`activities` projections) one page at a time: the cost of a
screen depends on the page size, not on the size of the alliance.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from alliance_shared.mongo import IndexSpec

from .adapters.readmodels import ReadModels
from .domain.periods import Period, month_window
from .domain.scoring import BRANCH_KINDS

Doc = dict[str, Any]

INDEXES = [
    IndexSpec("scores", [("period", 1), ("object_type", 1), ("sector", 1), ("score", -1)]),
    IndexSpec("scores", [("period", 1), ("object_type", 1), ("name", 1)]),
    IndexSpec("organizations", [("kind", 1), ("_id", 1)]),
    IndexSpec("follow_ups", [("institution_id", 1)]),
]

SORTS = {"score", "name", "completeness", "timeliness", "object_id"}
MEETING = "fpba.meeting.held.v1"
HEAT_MONTHS = 12


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


async def periods(models: ReadModels) -> list[str]:
    """Quarters that have an overview, newest first."""
    ids = [d["_id"] async for d in models.db.overview.find({}, {"_id": 1})]
    return sorted(ids, reverse=True)


# -- trend --------------------------------------------------------------------------------------
def _average_score(doc: Doc) -> float | None:
    parts = [
        (c["average_score"], c["institutions"])
        for c in doc.get("by_class", [])
        if c.get("average_score") is not None
    ]
    n = sum(w for _, w in parts)
    return round(sum(v * w for v, w in parts) / n, 2) if n else None


async def trend(models: ReadModels, period: str, quarters: int) -> dict[str, Any]:
    """The alliance's overview numbers for the last `quarters` quarters (missing ones as nulls)."""
    wanted = quarters_back(period, quarters)
    docs = {
        d["_id"]: d
        async for d in models.db.overview.find(
            {"_id": {"$in": wanted}},
            {"by_class": 1, "institutions": 1, "completeness": 1, "timeliness": 1, "grades": 1, "vetoed": 1},
        )
    }
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


async def institution_trend(
    models: ReadModels, period: str, institution_id: str, quarters: int
) -> dict[str, Any]:
    """One institution's score over the last `quarters` quarters."""
    wanted = quarters_back(period, quarters)
    keys = [f"{p}|institution|{institution_id}" for p in wanted]
    docs = {
        d["period"]: d
        async for d in models.db.scores.find(
            {"_id": {"$in": keys}}, {"period": 1, "score": 1, "grade": 1, "completeness": 1, "timeliness": 1}
        )
    }
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
RANK_FIELDS = {
    "object_id": 1,
    "name": 1,
    "score": 1,
    "grade": 1,
    "vetoed": 1,
    "ownership": 1,
    "sector": 1,
    "reporting_level": 1,
    "institution_id": 1,
    "completeness": 1,
    "timeliness": 1,
    "kind": 1,
}


def peer_query(period: str, level: str, peer: Doc) -> Doc:
    return {"period": period, "object_type": level, **peer}


def search_query(q: str | None) -> Doc:
    if not q:
        return {}
    return {"$or": [{"name": {"$regex": re.escape(q), "$options": "i"}}, {"object_id": q}]}


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
) -> dict[str, Any]:
    """A page of a peer group's ranking. `rank` is the competition rank by score inside the peer
    group (1 + how many in the group score higher), whatever the sort order and the search."""
    scores = models.db.scores
    group = peer_query(period, level, peer)
    query = {**group, **search_query(q)}
    order = -1 if descending else 1
    total = await scores.count_documents(query)
    docs = (
        await scores.find(query, RANK_FIELDS)
        .sort([(sort, order), ("_id", 1)])
        .skip((page - 1) * page_size)
        .limit(page_size)
        .to_list(page_size)
    )
    ranks: list[int] = []
    if sort == "score" and descending and not q:
        # one count for the page's first row; the rest follow from the order
        for n, d in enumerate(docs):
            if n and d.get("score") == docs[n - 1].get("score"):
                ranks.append(ranks[-1])
            elif n:
                ranks.append((page - 1) * page_size + n + 1)
            else:
                ranks.append(await _rank(scores, group, d.get("score")))
    else:
        ranks = [await _rank(scores, group, d.get("score")) for d in docs]
    group_size = total if not q else await scores.count_documents(group)
    items = [
        {
            "id": d["object_id"],
            "rank": r,
            **{k: d.get(k) for k in RANK_FIELDS if k != "object_id"},
        }
        for d, r in zip(docs, ranks, strict=True)
    ]
    return {"items": items, "total": total, "group_size": group_size, "page": page, "page_size": page_size}


async def _rank(scores: Any, group: Doc, score: float | None) -> int:
    if score is None:
        return await scores.count_documents({**group, "score": {"$ne": None}}) + 1
    return await scores.count_documents({**group, "score": {"$gt": score}}) + 1


async def ranking_rows(
    models: ReadModels, period: str, level: str, peer: Doc, q: str | None, limit: int
) -> list[Doc]:
    """All rows of a (filtered) peer group, best first, for an export."""
    docs = (
        await models.db.scores.find({**peer_query(period, level, peer), **search_query(q)}, RANK_FIELDS)
        .sort([("score", -1), ("_id", 1)])
        .to_list(limit)
    )
    rank, last = 0, object()
    for n, d in enumerate(docs, 1):
        if d.get("score") != last:
            rank, last = n, d.get("score")
        d["rank"] = rank
    return docs


# -- heat map -----------------------------------------------------------------------------------
async def heatmap(
    models: ReadModels, period: str, institution_id: str | None, q: str | None, page: int, page_size: int
) -> dict[str, Any]:
    """Organisational-life meetings per branch per month, for a page of branches: the 12 months
    ending with the period."""
    months = months_back(period)
    query: Doc = {"kind": {"$in": list(BRANCH_KINDS)}}
    if institution_id:
        query["institution_ids"] = institution_id
    if q:
        query["$or"] = [{"name": {"$regex": re.escape(q), "$options": "i"}}, {"_id": q}]
    db = models.db
    total = await db.organizations.count_documents(query)
    orgs = (
        await db.organizations.find(
            query, {"name": 1, "institution_ids": 1, "opened": 1, "closed": 1, "last_meeting_on": 1}
        )
        .sort("_id", 1)
        .skip((page - 1) * page_size)
        .limit(page_size)
        .to_list(page_size)
    )
    counts = await meeting_counts(models, [o["_id"] for o in orgs], months)
    rows = [
        {
            "organization_id": o["_id"],
            "name": o.get("name"),
            "institution_id": (o.get("institution_ids") or [None])[0],
            "opened": o.get("opened"),
            "closed": o.get("closed"),
            "last_meeting_on": o.get("last_meeting_on"),
            "counts": [counts.get((o["_id"], m), 0) for m in months],
        }
        for o in orgs
    ]
    return {"months": months, "items": rows, "total": total, "page": page, "page_size": page_size}


async def meeting_counts(
    models: ReadModels, org_ids: list[str], months: list[str]
) -> dict[tuple[str, str], int]:
    if not org_ids:
        return {}
    first: date = month_window(months[0]).start
    last: date = month_window(months[-1]).end
    out: dict[tuple[str, str], int] = {}
    async for a in models.db.activities.find(
        {
            "organization_id": {"$in": org_ids},
            "type": MEETING,
            "superseded_by": None,
            "held_on": {"$gte": first.isoformat(), "$lte": last.isoformat()},
        },
        {"organization_id": 1, "held_on": 1},
    ):
        key = (a["organization_id"], a["held_on"][:7])
        out[key] = out.get(key, 0) + 1
    return out


# -- the lagging work queue ---------------------------------------------------------------------
async def work_queue(
    models: ReadModels, institution_id: str | None, status: str | None, page: int, page_size: int
) -> dict[str, Any]:
    """Lagging and at-risk branches, longest silence first, each with its reminders (latest
    status per delivery) and the secretariat's follow-up record."""
    db = models.db
    query: Doc = {"status": {"$in": [status] if status else ["lagging", "at_risk"]}}
    if institution_id:
        query["institution_id"] = institution_id
    total = await db.lagging.count_documents(query)
    docs = (
        await db.lagging.find(query, {"outbox": 0})
        .sort([("days_since_last_meeting", -1), ("_id", 1)])
        .skip((page - 1) * page_size)
        .limit(page_size)
        .to_list(page_size)
    )
    return {"items": await queue_rows(models, docs), "total": total, "page": page, "page_size": page_size}


async def queue_rows(models: ReadModels, docs: list[Doc]) -> list[Doc]:
    db = models.db
    org_ids = [d["_id"] for d in docs]
    inst_ids = sorted({d.get("institution_id") for d in docs if d.get("institution_id")})
    names = {
        o["_id"]: o.get("name") async for o in db.organizations.find({"_id": {"$in": org_ids}}, {"name": 1})
    }
    inst_names = {
        i["_id"]: i.get("name") async for i in db.institutions.find({"_id": {"$in": inst_ids}}, {"name": 1})
    }
    deliveries = await models.deliveries_for(org_ids)
    follow_ups = {f["_id"]: f async for f in db.follow_ups.find({"_id": {"$in": org_ids}})}
    rows = []
    for d in docs:
        reminders = deliveries.get(d["_id"], [])
        f = follow_ups.get(d["_id"], {})
        rows.append(
            {
                "organization_id": d["_id"],
                "name": names.get(d["_id"]),
                "institution_id": d.get("institution_id"),
                "institution_name": inst_names.get(d.get("institution_id")),
                "status": d.get("status"),
                "days_since_last_meeting": d.get("days_since_last_meeting"),
                "last_meeting_on": d.get("last_meeting_on"),
                "org_life": d.get("org_life"),
                "since": d.get("since"),
                "reminders_sent": len(reminders),
                "reminders": [
                    {
                        "id": r["_id"],
                        "rule": r.get("rule"),
                        "channel": r.get("channel"),
                        "status": r.get("status"),
                        "recipient": r.get("recipient"),  # masked by notification
                        "at": r.get("at"),
                    }
                    for r in reminders[:5]
                ],
                "follow_up": follow_up_public(f) if f else {"version": 0},
            }
        )
    return rows


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
    }
