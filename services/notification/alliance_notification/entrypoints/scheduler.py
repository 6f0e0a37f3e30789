"""Background loops: the dispatcher (sends what is due), the escalation ladder, the weekly digest.
Each runs on `runtime.every`; what is "due" is decided by the injected clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from alliance_shared.mongo import MongoDedupeStore
from alliance_shared.runtime import Runtime, every

from .. import editing, handlers
from ..dispatch import Channels, dispatch_due
from ..handlers import Notifier


def background_loops(
    notifier: Notifier, channels: Channels, group_id: str
) -> list[Callable[[Runtime], Awaitable[None]]]:
    s = notifier.settings

    async def dispatcher(_: Runtime) -> None:
        await every(s.dispatch_interval_s, lambda: dispatch_due(notifier, channels), name="dispatcher")

    async def escalations(_: Runtime) -> None:
        await every(
            s.escalation_interval_s, lambda: handlers.advance_escalations(notifier), name="escalations"
        )

    async def digest(_: Runtime) -> None:
        async def once() -> None:
            await handlers.weekly_digest(notifier, await editing.digest_figures(notifier))

        await every(s.digest_interval_s, once, name="weekly-digest")

    async def forget_old_event_ids(rt: Runtime) -> None:
        # the embedded store has no TTL index: dedupe marks older than the broker's retention go by hand
        marks = MongoDedupeStore(rt.db, group_id)
        await every(3600, lambda: marks.expire(timedelta(days=30)), name="dedupe-expiry")

    return [dispatcher, escalations, digest, forget_old_event_ids]
