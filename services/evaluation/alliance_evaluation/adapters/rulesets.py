"""Draft rulesets, their what-if jobs and the jobs' rows, in the store.

`ruleset_drafts`: one document per draft, its ruleset kept as JSON text (a draft's keys are the
author's: stored as a value they cannot collide with the store's operators), its state (draft →
proposed → published, or back to draft when rejected) changed conditionally on `rev`.
`whatif_jobs`: a job's status and progress, written at each phase. `whatif_rows`: one row per
institution or branch and period, read by (job_id, period, level)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from alliance_shared.mongo import IndexSpec, is_duplicate_key
from pymongo.asynchronous.database import AsyncDatabase

Doc = dict[str, Any]
DRAFTS, JOBS, ROWS = "ruleset_drafts", "whatif_jobs", "whatif_rows"
ROWS_BATCH = 1_000

INDEXES = [
    IndexSpec(DRAFTS, [("version", 1)], unique=True),
    IndexSpec(DRAFTS, [("status", 1)]),
    IndexSpec(JOBS, [("draft_id", 1)]),
    IndexSpec(ROWS, [("job_id", 1), ("period", 1), ("level", 1)]),
]


class RulesetStore:
    def __init__(self, db: Callable[[], AsyncDatabase[Doc]]) -> None:
        self._db = db

    @property
    def db(self) -> AsyncDatabase[Doc]:
        return self._db()

    # -- drafts -------------------------------------------------------------------------------
    async def add_draft(self, doc: Doc) -> bool:
        """Store a new draft; False when its version is taken by another draft."""
        try:
            await self.db[DRAFTS].insert_one(doc)
        except Exception as exc:
            if is_duplicate_key(exc):
                return False
            raise
        return True

    async def draft(self, draft_id: str) -> Doc | None:
        found: Doc | None = await self.db[DRAFTS].find_one({"_id": draft_id})
        return found

    async def drafts(self) -> list[Doc]:
        docs = await self.db[DRAFTS].find({}, {"raw_json": 0, "text": 0}).to_list(None)
        return sorted(docs, key=lambda d: d["created_at"], reverse=True)

    async def published(self) -> list[Doc]:
        return await self.db[DRAFTS].find({"status": "published"}).to_list(None)

    async def change_draft(self, draft_id: str, rev: int, fields: Doc) -> bool:
        """Set `fields` on the draft unless someone changed it since `rev`."""
        result = await self.db[DRAFTS].update_one({"_id": draft_id, "rev": rev}, {"$set": {**fields, "rev": rev + 1}})
        return bool(result.modified_count)

    # -- what-if jobs -------------------------------------------------------------------------
    async def add_job(self, doc: Doc) -> None:
        await self.db[JOBS].insert_one(doc)

    async def note_job(self, job_id: str, fields: Doc) -> None:
        await self.db[JOBS].update_one({"_id": job_id}, {"$set": fields})

    async def job(self, job_id: str) -> Doc | None:
        found: Doc | None = await self.db[JOBS].find_one({"_id": job_id})
        return found

    async def jobs_of(self, draft_id: str) -> list[Doc]:
        docs = await self.db[JOBS].find({"draft_id": draft_id}, {"summary": 0}).to_list(None)
        return sorted(docs, key=lambda d: d["started_at"], reverse=True)

    async def add_rows(self, rows: Sequence[Doc]) -> None:
        for start in range(0, len(rows), ROWS_BATCH):
            await self.db[ROWS].insert_many([dict(r) for r in rows[start : start + ROWS_BATCH]], ordered=False)

    async def rows(self, job_id: str, period: str, level: str) -> list[Doc]:
        return await self.db[ROWS].find({"job_id": job_id, "period": period, "level": level}).to_list(None)

    async def drop_rows(self, job_ids: Sequence[str]) -> None:
        """The rows of older jobs of a draft (its latest job's rows are the diff shown)."""
        if job_ids:
            await self.db[ROWS].delete_many({"job_id": {"$in": list(job_ids)}})
