"""The rank rows: the compact read model behind the overview, the rankings, the heat map and the
lagging scan. One small document per institution and quarter in `ranks` (`_id`
"<period>|<institution>", with `period` and `institution_id`, read by the indexed `period`): its
ranking row and the rows of the branches it owns (a joint branch belongs to the first institution
it covers), each branch with its meetings per month and its last meeting.

A quarter of the city is ~3,000 such documents rather than 33,000 score cards with their evidence.
The scorer writes a chunk's rows right after its cards; readers keep a quarter's rows in memory
(`RankCache`) until the quarter's overview is recomputed — the overview carries a fresh `version`
after every rescore, so one `_id` read tells a reader whether its copy is still the current one,
whichever replica did the scoring.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from alliance_shared.ids import uuid4
from alliance_shared.mongo import IndexSpec
from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

Doc = dict[str, Any]
COLLECTION = "ranks"
INDEXES = [IndexSpec(COLLECTION, [("period", 1), ("institution_id", 1)])]

# the fields every rank row has, institution or branch
ROW_FIELDS = (
    "name",
    "score",
    "grade",
    "vetoed",
    "ownership",
    "sector",
    "reporting_level",
    "institution_id",
    "completeness",
    "timeliness",
)
RANK_FIELDS = (*ROW_FIELDS, "kind")  # what a ranking row shows, wherever it is ranked
INSTITUTION_FIELDS = (
    *ROW_FIELDS,
    "members",
    "branch_count",
    "joint_branch_count",
    "coverage",
    "as_of",
    "provisional",
)
BRANCH_FIELDS = (
    *ROW_FIELDS,
    "kind",
    "institution_ids",
    "org_life",
    "members",
    "pocket_members",
    "missing",
    "pending",
    "org_life_if_unmet",
    "opened",
    "closed",
)


def rank_key(period: str, institution_id: str) -> str:
    return f"{period}|{institution_id}"


def new_version() -> str:
    return uuid4().hex


def row_of(doc: Doc, fields: Sequence[str]) -> Doc:
    """A score document's ranking row (`id` plus `fields`)."""
    return {"id": doc["object_id"], **{k: doc.get(k) for k in fields}}


def institution_documents(
    period: str, institutions: Iterable[Doc], branches: Iterable[Doc], meeting_days: dict[str, list[str]]
) -> list[Doc]:
    """One rank document per institution in `institutions` (score documents), with the rows of
    the branches in `branches` that it owns, each with its meetings per month (`2026-07` → count)
    and its last meeting day, from `meeting_days` (organisation id → days of its meetings)."""
    owned: dict[str, list[Doc]] = {}
    for b in branches:
        owner = (b.get("institution_ids") or [b.get("institution_id")])[0]
        days = sorted(meeting_days.get(b["object_id"], []))
        months: dict[str, int] = {}
        for day in days:
            months[day[:7]] = months.get(day[:7], 0) + 1
        row = row_of(b, BRANCH_FIELDS) | {"meetings": months, "last_meeting_on": days[-1] if days else None}
        owned.setdefault(owner, []).append(row)
    return [
        {
            "_id": rank_key(period, inst["object_id"]),
            "period": period,
            "institution_id": inst["object_id"],
            "institution": row_of(inst, INSTITUTION_FIELDS),
            "branches": sorted(owned.get(inst["object_id"], []), key=lambda r: r["id"]),
        }
        for inst in institutions
    ]


def digest_of(doc: Doc) -> str:
    """A rank document's fingerprint (what `save` compares with the stored one)."""
    body = {k: v for k, v in doc.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


async def save(db: AsyncDatabase[Doc], docs: Sequence[Doc]) -> int:
    """Write a chunk's rank documents that changed (each replaces the one it supersedes), in one
    command; returns how many were written. A rescore with nothing new writes none."""
    if not docs:
        return 0
    fresh = [{**d, "digest": digest_of(d)} for d in docs]
    query = {"_id": {"$in": [d["_id"] for d in fresh]}}
    stored = {d["_id"]: d.get("digest") async for d in db[COLLECTION].find(query, {"digest": 1})}
    writes = [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in fresh if stored.get(d["_id"]) != d["digest"]]
    if writes:
        await db[COLLECTION].bulk_write(writes, ordered=False)
    return len(writes)


async def read(db: AsyncDatabase[Doc], period: str) -> list[Doc]:
    """The quarter's rank documents, their keys and repeated values shared (see `shared`)."""
    pool: dict[str, str] = {}
    return [shared(d, pool) async for d in db[COLLECTION].find({"period": period})]


def shared(value: Any, pool: dict[str, str]) -> Any:
    """`value` with equal keys and string values held once (`pool`: the strings seen so far). The
    driver gives every document keys and strings of its own: the city's quarter is 27,000 rows of
    20-odd fields with the same names, grades, kinds, classes, days and institution ids, which
    readers hold in memory (`RankCache`)."""
    if isinstance(value, dict):
        return {pool.setdefault(k, k): shared(v, pool) for k, v in value.items()}
    if isinstance(value, list):
        return [shared(v, pool) for v in value]
    if type(value) is str:
        return pool.setdefault(value, value)
    return value


async def exists(db: AsyncDatabase[Doc], period: str) -> bool:
    return await db[COLLECTION].find_one({"period": period}, {"_id": 1}) is not None


@dataclass
class Quarter:
    """A quarter's rows in memory, ready to filter, sort and page."""

    version: str | None
    institutions: list[Doc] = field(default_factory=list)
    branches: list[Doc] = field(default_factory=list)
    _branch_index: dict[str, Doc] | None = None
    # the rank documents the rows come from, by `_id` (what a rescore of a few institutions patches)
    documents: dict[str, Doc] = field(default_factory=dict)

    @classmethod
    def of(cls, version: str | None, docs: Iterable[Doc]) -> Quarter:
        q = cls(version)
        for d in sorted(docs, key=lambda d: d["_id"]):
            q.documents[d["_id"]] = d
            q.institutions.append(d["institution"])
            q.branches.extend(d.get("branches") or [])
        q.branches.sort(key=lambda r: r["id"])
        return q

    def patched(self, docs: Iterable[Doc]) -> list[Doc]:
        """The quarter's rank documents with `docs` in place of those they supersede (by `_id`)."""
        return list((self.documents | {d["_id"]: d for d in docs}).values())

    def rows(self, level: str) -> list[Doc]:
        return self.institutions if level == "institution" else self.branches

    def branch(self, org_id: str) -> Doc | None:
        if self._branch_index is None:
            self._branch_index = {b["id"]: b for b in self.branches}
        return self._branch_index.get(org_id)


def matches(row: Doc, peer: Doc) -> bool:
    """`peer`: equality on row fields; `institution_ids` matches a row covering that institution."""
    for k, v in peer.items():
        if k == "institution_ids":
            if v not in (row.get("institution_ids") or [row.get("institution_id")]):
                return False
        elif row.get(k) != v:
            return False
    return True


def searched(row: Doc, q: str | None) -> bool:
    return not q or row["id"] == q or q.casefold() in (row.get("name") or "").casefold()


def ordered(rows: list[Doc], key: str, descending: bool) -> list[Doc]:
    """Sorted by `key` (missing values lowest, as the store sorts them), ties by id ascending."""

    def value(r: Doc) -> Any:
        if key in ("name", "object_id"):
            return _text(r, key)
        v = r.get(key)
        return (v is not None, v if v is not None else 0)

    by_id = sorted(rows, key=lambda r: r["id"])
    return sorted(by_id, key=value, reverse=descending)  # stable: ids stay ascending within ties


def _text(row: Doc, key: str) -> str:
    return row["id"] if key == "object_id" else (row.get(key) or "")


class Ranker:
    """Competition ranks by score inside a group: 1 + how many in the group score higher."""

    def __init__(self, group: Iterable[Doc]) -> None:
        self._scores = sorted(r["score"] for r in group if r.get("score") is not None)

    def rank(self, score: float | None) -> int:
        if score is None:
            return len(self._scores) + 1
        return len(self._scores) - bisect.bisect_right(self._scores, score) + 1


# rows (institutions and branches) the cache holds at most: a city quarter is ~33,000 rows and ~31 MB
# (stop 28's tracemalloc), so two city quarters, or every quarter of a smaller alliance up to `keep`
KEEP_ROWS = 70_000


class RankCache:
    """Quarters' rows kept in memory, reloaded when the quarter's overview version changes. Bounded
    by rows, not only by quarters: the quarter used last is always kept, the others as long as all
    together hold at most `keep_rows` rows."""

    def __init__(
        self,
        db: Callable[[], AsyncDatabase[Doc]],
        rebuild: Callable[[str], Any],
        keep: int = 8,
        keep_rows: int = KEEP_ROWS,
    ) -> None:
        self._db = db
        self._rebuild = rebuild  # (period) -> awaitable: writes the rows from the score cards
        self._keep = keep
        self._keep_rows = keep_rows
        self._quarters: OrderedDict[str, Quarter] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def put(self, period: str, version: str, docs: Iterable[Doc]) -> None:
        """The scorer has just read the quarter's rows to build its overview: keep them (the
        replica that scores never pays the reload)."""
        self._remember(period, Quarter.of(version, docs))

    def _remember(self, period: str, quarter: Quarter) -> None:
        self._quarters[period] = quarter
        self._quarters.move_to_end(period)
        while len(self._quarters) > 1 and (len(self._quarters) > self._keep or self.rows() > self._keep_rows):
            self._quarters.popitem(last=False)

    def rows(self) -> int:
        """The rows held now, of every quarter kept."""
        return sum(len(q.institutions) + len(q.branches) for q in self._quarters.values())

    def periods(self) -> list[str]:
        """The quarters held now, the one used longest ago first."""
        return list(self._quarters)

    def held(self, period: str, version: str | None) -> Quarter | None:
        """The quarter's rows kept here, if they are those of overview `version`."""
        cached = self._quarters.get(period)
        return cached if cached is not None and version is not None and cached.version == version else None

    async def quarter(self, period: str) -> Quarter:
        db = self._db()
        head = await db.overview.find_one({"_id": period}, {"version": 1})
        version = (head or {}).get("version")
        cached = self._quarters.get(period)
        if cached is not None and version is not None and cached.version == version:
            self._quarters.move_to_end(period)
            return cached
        async with self._locks.setdefault(period, asyncio.Lock()):
            cached = self._quarters.get(period)
            if cached is not None and version is not None and cached.version == version:
                return cached
            docs = await read(db, period)
            if not docs and head is not None:  # scored before rank rows existed: build them once
                await self._rebuild(period)
                docs = await read(db, period)
            quarter = Quarter.of(version, docs)
            if version is not None:
                self._remember(period, quarter)
            return quarter

    async def warm(self, periods: Iterable[str]) -> None:
        """Reload the quarters whose overview changed, before anyone asks (the background loop)."""
        for period in periods:
            await self.quarter(period)


class VersionedList:
    """A whole small collection's documents matching `query`, kept in memory until the writer
    bumps its version (`read_versions` `_id` = the collection's name)."""

    def __init__(self, db: Callable[[], AsyncDatabase[Doc]], collection: str, query: Doc) -> None:
        self._db = db
        self._collection = collection
        self._query = query
        self._cached: tuple[str, list[Doc]] | None = None
        self._lock = asyncio.Lock()

    async def bump(self) -> None:
        await self._db().read_versions.replace_one({"_id": self._collection}, {"version": new_version()}, upsert=True)

    async def items(self) -> list[Doc]:
        db = self._db()
        head = await db.read_versions.find_one({"_id": self._collection})
        version = (head or {}).get("version")
        if version is not None and self._cached is not None and self._cached[0] == version:
            return self._cached[1]
        async with self._lock:
            if version is not None and self._cached is not None and self._cached[0] == version:
                return self._cached[1]
            docs = await db[self._collection].find(self._query, {"outbox": 0}).to_list(None)
            if version is not None:
                self._cached = (version, docs)
            return docs
