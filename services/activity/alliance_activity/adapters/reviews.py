"""The review state of accepted submissions, kept on their records in `submissions`: the state
(`review_state`, top level and indexed with the institution, so the queue is one indexed `$in`),
a step counter (`review_version`, which every step is conditional on: two reviewers cannot both
win) and the steps taken (`review_history`). A step and the event announcing it are one document
write (the record's own outbox, relayed by the runtime)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.mongo import IndexSpec, outbox_push
from alliance_shared.runtime import Runtime

from .submissions import SUBMISSIONS

INDEXES = (IndexSpec(SUBMISSIONS, [("institution_id", 1), ("review_state", 1), ("received_at", -1)]),)
# what the queue, the history and the form show of a record (never its outbox or fingerprints)
FIELDS = {
    k: 1
    for k in (
        "status", "type", "channel", "reporter", "reporter_key", "reporter_institution_id", "received_at",
        "institution_id", "organization_id", "event.data", "event.id", "event.source", "flags", "superseded_by",
        "review_state", "review_version", "review_history", "reviewed_at", "resubmitted_as",
    )
}  # fmt: skip


class ReviewStore:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def _col(self) -> Any:
        return self._runtime.db[SUBMISSIONS]

    async def record(self, submission_id: str) -> dict[str, Any] | None:
        """The accepted record of `submission_id`, with its review."""
        found: dict[str, Any] | None = await self._col.find_one({"_id": submission_id, "status": "accepted"}, FIELDS)
        return found

    async def step(
        self,
        submission_id: str,
        version_was: int,
        fields: dict[str, Any],
        entry: dict[str, Any],
        events: Sequence[tuple[EventPayload, CloudEvent]],
    ) -> bool:
        """Move the record one step on, if no one else did since `version_was`: set `fields`, add
        `entry` to its history and `events` to its outbox. False: it moved meanwhile."""
        guard: dict[str, Any] = {"review_version": version_was} if version_was else {"review_version": None}
        update = outbox_push(
            {"$set": {**fields, "review_version": version_was + 1}, "$push": {"review_history": entry}}, events
        )
        result = await self._col.update_one({"_id": submission_id, "status": "accepted", **guard}, update)
        if result.modified_count and events:
            self._runtime.notify_outbox()
        return bool(result.modified_count)

    async def approved_among(self, submission_ids: Sequence[str]) -> set[str]:
        """The approved records among `submission_ids` (corrections of them are refused)."""
        query = {"_id": {"$in": sorted(set(submission_ids))}, "review_state": "approved"}
        return {d["_id"] async for d in self._col.find(query, {"_id": 1})}

    async def note(self, submission_id: str, fields: dict[str, Any], entry: dict[str, Any]) -> None:
        """Add to a record's history without a step (a returned report was resubmitted as another)."""
        await self._col.update_one({"_id": submission_id}, {"$set": fields, "$push": {"review_history": entry}})

    async def queue(
        self, institution_ids: Sequence[str], states: Sequence[str], *, limit: int, skip: int
    ) -> tuple[list[dict[str, Any]], int]:
        """The current (uncorrected) records of `institution_ids` awaiting review, oldest first,
        through the (institution, state) index."""
        return await self._find(institution_ids, states, {"superseded_by": None}, [("received_at", 1)], limit, skip)

    async def history(
        self, institution_ids: Sequence[str], states: Sequence[str], *, limit: int, skip: int
    ) -> tuple[list[dict[str, Any]], int]:
        """The reviewed records of `institution_ids` (corrected ones too), the latest step first."""
        return await self._find(institution_ids, states, {}, [("reviewed_at", -1), ("review_version", -1)], limit, skip)

    async def _find(
        self,
        institution_ids: Sequence[str],
        states: Sequence[str],
        more: dict[str, Any],
        order: list[tuple[str, int]],
        limit: int,
        skip: int,
    ) -> tuple[list[dict[str, Any]], int]:
        if not institution_ids or not states:
            return [], 0
        query = {
            "institution_id": {"$in": sorted(set(institution_ids))},
            "review_state": {"$in": list(states)},
            **more,
        }
        docs = await self._col.find(query, FIELDS).sort(order).skip(skip).to_list(limit)
        return docs, await self._col.count_documents(query)
