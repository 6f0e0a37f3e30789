"""Unlock exceptions of closed periods, kept on the period's own document in `periods` (an outbox
collection): the exceptions are few per period, so granting or revoking one rewrites the period's
`unlocks` array, conditional on its `unlocks_version`, with the event announcing it in the same write."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.mongo import outbox_push
from pymongo.asynchronous.database import AsyncDatabase

Doc = dict[str, Any]


class UnlockStore:
    def __init__(self, db: Callable[[], AsyncDatabase[Doc]], wake_relay: Callable[[], None]) -> None:
        self._db = db
        self._wake = wake_relay

    async def of_period(self, period: str) -> tuple[Doc | None, list[Doc], int]:
        """The period's document (None: never closed), its exceptions and their version."""
        doc = await self._db().periods.find_one({"_id": period}, {"status": 1, "unlocks": 1, "unlocks_version": 1})
        if doc is None:
            return None, [], 0
        return doc, list(doc.get("unlocks") or []), int(doc.get("unlocks_version") or 0)

    async def write(
        self, period: str, version_was: int, unlocks: list[Doc], events: Sequence[tuple[EventPayload, CloudEvent]]
    ) -> bool:
        """Replace the period's exceptions if no one changed them since `version_was`."""
        guard: Doc = {"unlocks_version": version_was} if version_was else {"unlocks_version": None}
        update = outbox_push({"$set": {"unlocks": unlocks, "unlocks_version": version_was + 1}}, events)
        result = await self._db().periods.update_one({"_id": period, "status": "closed", **guard}, update)
        if result.modified_count:
            self._wake()
        return bool(result.modified_count)
