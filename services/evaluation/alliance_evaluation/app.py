"""The composition root: settings, clock, runtime, handlers, consumers, loops and routes, wired once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from alliance_shared.clock import Clock, SystemClock
from alliance_shared.http import create_service_app
from alliance_shared.job_routes import status_router
from alliance_shared.jobs import Jobs, adopting
from alliance_shared.mongo import jobs as job_store
from alliance_shared.runtime import Runtime, every
from fastapi import FastAPI

from .adapters import audit, export_files, projections, ranks, readmodels
from .adapters import rulesets as ruleset_store
from .adapters.unlocks import UnlockStore
from .domain.periods import Period
from .domain.ruleset import RULESET_DIR, load_ruleset
from .entrypoints import api, dashboard, jobs, unlocks
from .entrypoints import audit as audit_routes
from .entrypoints import exports as export_routes
from .entrypoints import queues as queue_routes
from .entrypoints import rulesets as ruleset_routes
from .entrypoints.consumers import consumer_specs
from .entrypoints.dashboard import exports
from .entrypoints.schedule import loops
from .settings import EvaluationSettings
from .usecases.rulesets import RulesetLifecycle
from .usecases.unit import EvaluationUnit

WARM_INTERVAL_S = 5.0
WARM_QUARTERS = 4


def keep_warm(ev: EvaluationUnit) -> Callable[[Runtime], Awaitable[None]]:
    """Each replica reloads the rank rows of the last four quarters (the heat map's year) when
    they change, so that no dashboard user waits for a reload."""

    async def warm(_: Runtime) -> None:
        async def once() -> None:
            quarters = [Period.of_instant(ev.clock.now())]
            while len(quarters) < WARM_QUARTERS:
                quarters.append(quarters[-1].previous())
            await ev.models.ranks.warm(str(q) for q in quarters)

        await every(WARM_INTERVAL_S, once, name="rank-rows-warm")

    return warm


async def adopt(ev: EvaluationUnit) -> None:
    await ev.models.trail.adopt_legacy()  # audit records of the older free shape, rewritten once


def create_app(
    settings: EvaluationSettings | None = None,
    *,
    clock: Clock | None = None,
    start_consumers: bool = True,
    background: bool = True,
) -> FastAPI:
    settings = settings or EvaluationSettings()
    clock = clock or SystemClock()
    ruleset = load_ruleset(
        settings.ruleset_version, Path(settings.ruleset_dir) if settings.ruleset_dir else RULESET_DIR
    )
    runtime = Runtime(
        settings=settings,
        clock=clock,
        indexes=[*projections.INDEXES, *readmodels.INDEXES, *ranks.INDEXES, *audit.INDEXES, *ruleset_store.INDEXES,
                 *job_store.INDEXES, *export_files.INDEXES],
        outbox_collections=readmodels.OUTBOX_COLLECTIONS,
        start_consumers=start_consumers,
    )
    ev = EvaluationUnit(
        projections.Projections(lambda: runtime.db),
        readmodels.ReadModels(
            lambda: runtime.db, wake_relay=runtime.notify_outbox, rank_cache_rows=settings.rank_cache_rows
        ),
        ruleset,
        clock,
        settings,
        unlocks=UnlockStore(lambda: runtime.db, runtime.notify_outbox),
    )
    runtime.consumers = consumer_specs(ev, group_id=f"{settings.service_name}")
    rulesets = RulesetLifecycle(ev, ruleset_store.RulesetStore(lambda: runtime.db))
    keep = timedelta(days=settings.jobs_keep_days)
    files = export_files.ExportFiles(lambda: runtime.db, keep)
    long_work = Jobs(job_store.JobStore(lambda: runtime.db), clock,
                     {**jobs.works(ev), exports.EXPORT_JOB: exports.work(ev, files)}, keep=keep)
    runtime.background = [*loops(ev), keep_warm(ev), rulesets.loop(), adopting(long_work)] if background else []

    app = create_service_app(
        runtime,
        title="评价服务 / evaluation",
        description="综合评价、落后支部与统一视图 / scoring, lagging branches, the unified view",
        routers=[dashboard.router, api.router, export_routes.router, jobs.router, status_router(), unlocks.router,
                 audit_routes.router, ruleset_routes.router, queue_routes.router],
        on_started=lambda _: adopt(ev),
    )
    app.state.evaluation = ev
    app.state.jobs = long_work
    app.state.export_files = files
    app.state.rulesets = rulesets
    return app
