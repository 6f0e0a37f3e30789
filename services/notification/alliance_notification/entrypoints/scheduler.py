"""Background loops: the dispatcher (sends what is due), the escalation ladder, the weekly digest.
Each runs on `runtime.every`; what is "due" is decided by the injected clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from alliance_shared.runtime import Runtime, every

from .. import handlers
from ..handlers import NotificationUnit
from ..usecases import editing
from ..usecases.dispatch import Channels, dispatch_until_idle


def background_loops(notifier: NotificationUnit, channels: Channels) -> list[Callable[[Runtime], Awaitable[None]]]:
    s = notifier.settings

    async def dispatcher(_: Runtime) -> None:
        await every(s.dispatch_interval_s, lambda: dispatch_until_idle(notifier, channels), name="dispatcher")

    async def escalations(_: Runtime) -> None:
        await every(
            s.escalation_interval_s, lambda: handlers.advance_escalations(notifier), name="escalations"
        )

    async def digest(_: Runtime) -> None:
        async def once() -> None:
            if handlers.digest_due(notifier):
                await handlers.weekly_digest(
                    notifier,
                    await editing.digest_figures(notifier),
                    await editing.institution_digests(notifier),
                )

        await every(s.digest_interval_s, once, name="weekly-digest")

    return [dispatcher, escalations, digest]
