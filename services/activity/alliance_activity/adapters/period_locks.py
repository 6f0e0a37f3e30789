"""activity's projection of evaluation's period closes and unlock exceptions (`period_locks`: one
document per closed period; `unlock_exceptions`: one per exception), written from
`evaluation.events.v1` by idempotent upserts. Both stay small (a few documents a quarter): each
process holds them in memory, read again every `max_age_s` in the background (`refresh`) and at
once after its own consumer wrote, so the ingestion path asks the store nothing for them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alliance_shared.runtime import Runtime

from ..domain.period_lock import PeriodLocks, UnlockException

PERIOD_LOCKS = "period_locks"
UNLOCKS = "unlock_exceptions"


class PeriodLockStore:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._cached: PeriodLocks | None = None

    def _col(self, name: str) -> Any:
        return self._runtime.db[name]

    async def closed(self, period: str, closed_at: Any) -> None:
        await self._col(PERIOD_LOCKS).update_one({"_id": period}, {"$set": {"closed_at": closed_at}}, upsert=True)
        await self.refresh()

    async def exception(self, exception_id: str, fields: dict[str, Any]) -> None:
        await self._col(UNLOCKS).update_one({"_id": exception_id}, {"$set": fields}, upsert=True)
        await self.refresh()

    async def current(self) -> PeriodLocks:
        """The closed periods and their exceptions as this process last read them (read now only
        before the first `refresh`)."""
        if self._cached is not None:
            return self._cached
        return await self.refresh()

    async def refresh(self) -> PeriodLocks:
        """Read them again (another process's consumer may have written them)."""
        closed = {d["_id"]: d["closed_at"] async for d in self._col(PERIOD_LOCKS).find({})}
        exceptions = [
            UnlockException(
                d["_id"], d["period"], d.get("organization_id"), d.get("institution_id"), _aware(d["until"]),
                _aware(d["revoked_at"]) if d.get("revoked_at") else None,
            )
            async for d in self._col(UNLOCKS).find({}) if d.get("until")  # a revocation read before its grant waits
        ]  # fmt: skip
        locks = PeriodLocks(closed, tuple(exceptions))
        self._cached = locks
        return locks


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
