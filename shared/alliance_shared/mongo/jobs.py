"""Long requests as jobs, kept in `jobs` so that a restart loses none: one document per job with
its state (queued, running, succeeded, failed), progress, result or error and times. While a job
runs it holds `running_key` (say `lagging_scan:2026-Q4`), unique, so a second request for the
same work finds it and joins it instead of starting another; the key is dropped when it ends."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from .client import IndexSpec, is_duplicate_key

Doc = dict[str, Any]
JOBS = "jobs"
ACTIVE = ("queued", "running")
ENDED = ("succeeded", "failed")

INDEXES = (
    # sparse: only the jobs still running hold a key, and each key once
    IndexSpec(JOBS, [("running_key", 1)], unique=True, options={"sparse": True}),
    IndexSpec(JOBS, [("state", 1)]),
)


class JobStore:
    def __init__(self, db: Callable[[], AsyncDatabase[Doc]]) -> None:
        self._db = db

    @property
    def _col(self) -> Any:
        return self._db()[JOBS]

    async def open(self, doc: Doc) -> tuple[Doc, bool]:
        """(the job, True) once stored; (the job already running under its key, False) if one is."""
        while True:
            try:
                await self._col.insert_one(doc)
                return doc, True
            except (DuplicateKeyError, OperationFailure) as exc:
                if not is_duplicate_key(exc):
                    raise
            running = await self._col.find_one({"running_key": doc["running_key"]})
            if running is not None:
                return running, False
            # it ended between the insert and the read: try again

    async def get(self, job_id: str) -> Doc | None:
        found: Doc | None = await self._col.find_one({"_id": job_id})
        return found

    async def update(self, job_id: str, fields: Mapping[str, Any]) -> None:
        await self._col.update_one({"_id": job_id}, {"$set": dict(fields)})

    async def finish(self, job_id: str, fields: Mapping[str, Any]) -> None:
        """The job's end (succeeded or failed): its key is free for the next request."""
        await self._col.update_one({"_id": job_id}, {"$set": dict(fields), "$unset": {"running_key": ""}})

    async def prune(self, ended_before: datetime) -> int:
        """Remove the jobs that ended (succeeded or failed) before `ended_before`; how many."""
        result = await self._col.delete_many(
            {"state": {"$in": list(ENDED)}, "finished_at": {"$lt": ended_before}})
        return int(result.deleted_count)

    async def active(self) -> list[Doc]:
        """Every job not yet ended, whichever process runs it (or ran it before it stopped)."""
        docs: list[Doc] = await self._col.find({"state": {"$in": list(ACTIVE)}}).to_list(None)
        return docs

    async def adopt(self, job: Doc, owner: str, now: datetime) -> Doc | None:
        """Take over a job whose owner stopped beating (the one who still sees the beat it saw wins)."""
        taken: Doc | None = await self._col.find_one_and_update(
            {"_id": job["_id"], "owner": job.get("owner"), "heartbeat_at": job.get("heartbeat_at")},
            {"$set": {"owner": owner, "heartbeat_at": now, "state": "running"}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        return taken
