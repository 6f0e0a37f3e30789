"""The period lock at ingestion: what evaluation says of its periods (closed, unlocked for a branch
or an institution until a moment, revoked) kept in activity's projection, and the gate every
accepted report passes after assessment — refused into a closed period without an exception in
force, or as a correction of an approved report (`domain.period_lock` says why) — and stamped with
who filed it and, when a superior filed it for a branch (上级代办), on whose behalf."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.evaluation import PeriodClosed, PeriodUnlocked, PeriodUnlockRevoked

from ..adapters.period_locks import PeriodLockStore
from ..adapters.reviews import ReviewStore
from ..domain.filing import filed
from ..domain.model import Accepted, Arrival, Rejected
from ..domain.occurrence import period_of
from ..domain.period_lock import PeriodLocks, approved_refusal, data_time_field

if TYPE_CHECKING:
    from .ingestion import IngestReport


async def on_period_closed(store: PeriodLockStore, p: PeriodClosed, _: CloudEvent) -> None:
    await store.closed(p.period, p.closed_at)


async def on_period_unlocked(store: PeriodLockStore, p: PeriodUnlocked, _: CloudEvent) -> None:
    await store.exception(p.exception_id, {
        "period": p.period, "organization_id": p.organization_id, "institution_id": p.institution_id,
        "until": p.until, "requested_by": p.requested_by, "granted_by": p.granted_by,
    })  # fmt: skip


async def on_unlock_revoked(store: PeriodLockStore, p: PeriodUnlockRevoked, _: CloudEvent) -> None:
    await store.exception(p.exception_id, {
        "period": p.period, "organization_id": p.organization_id, "institution_id": p.institution_id,
        "revoked_at": p.revoked_at,
    })  # fmt: skip


# evaluation.events.v1 → the projection of closed periods and their unlock exceptions
PERIOD_HANDLERS: dict[type[EventPayload], Callable[[PeriodLockStore, Any, CloudEvent], Awaitable[None]]] = {
    PeriodClosed: on_period_closed,
    PeriodUnlocked: on_period_unlocked,
    PeriodUnlockRevoked: on_unlock_revoked,
}


class SubmissionGate:
    """Refuses accepted reports after assessment, each with its reason: one read of the (small,
    cached) period locks per pass, and one `$in` of the superseded ids when a pass corrects."""

    def __init__(self, locks: PeriodLockStore, reviews: ReviewStore) -> None:
        self._locks = locks
        self._reviews = reviews

    async def __call__(self, reports: Sequence[IngestReport], arrivals: Sequence[Arrival], now: datetime) -> None:
        for report, arrival in zip(reports, arrivals, strict=True):
            report.accepted = [filed(a, arrival.reporter) for a in report.accepted]
        corrected = sorted({a.event.supersedes for r in reports for a in r.accepted if a.event.supersedes})
        approved = await self._reviews.approved_among(corrected) if corrected else set()
        locks = await self._locks.current()
        if not locks.closed and not approved:
            return
        for report in reports:
            kept: list[Accepted] = []
            for a in report.accepted:
                refused = self._refused(a, locks, approved, now)
                if refused is None:
                    kept.append(a)
                else:
                    report.rejected.append(refused)
            report.accepted = kept

    @staticmethod
    def _refused(a: Accepted, locks: PeriodLocks, approved: set[str], now: datetime) -> Rejected | None:
        p = a.payload
        organization_id = getattr(p, "organization_id", None) or (a.key if hasattr(p, "member_id") else None)
        why = (
            approved_refusal()
            if a.event.supersedes in approved
            else locks.refusal(period_of(p), organization_id, a.event.institutionid, now, data_time_field(p))
        )
        if why is None:
            return None
        return Rejected(
            a.event.id, a.label, a.row, (why,), type=a.event.type, institution_id=a.event.institutionid,
            organization_id=getattr(p, "organization_id", None),
        )  # fmt: skip
