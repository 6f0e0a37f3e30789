"""The composition root of the registry: `create_app(settings, clock=...)` wires the store, the
PII vault, the outbox relay, the overdue-transfer loop, the jobs and the routes. Tests call it too."""

from __future__ import annotations

from datetime import timedelta

from alliance_shared.auth import Principal
from alliance_shared.clock import Clock, SystemClock
from alliance_shared.http import create_service_app
from alliance_shared.job_routes import status_router
from alliance_shared.jobs import Jobs, adopting
from alliance_shared.mongo import jobs as job_store
from alliance_shared.pii import PiiVault
from alliance_shared.runtime import Runtime
from fastapi import FastAPI

from .adapters.store import INDEXES, OUTBOX_COLLECTIONS, RegistryStore
from .entrypoints.http import router
from .entrypoints.scheduler import overdue_transfer_scan
from .handlers import resolve_api_key
from .settings import RegistrySettings
from .usecases import scans
from .usecases.context import RegistryUnit


def create_app(settings: RegistrySettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    clock = clock or SystemClock()
    runtime = Runtime(settings=settings, clock=clock, indexes=[*INDEXES, *job_store.INDEXES],
                      outbox_collections=OUTBOX_COLLECTIONS)
    registry = RegistryUnit(
        store=RegistryStore(lambda: runtime.db, wake=runtime.notify_outbox),
        vault=PiiVault(settings.pii_encryption_key),
        clock=clock,
        settings=settings,
    )
    long_work = Jobs(job_store.JobStore(lambda: runtime.db), clock, scans.works(registry),
                     keep=timedelta(days=settings.jobs_keep_days))
    runtime.background = [overdue_transfer_scan(registry, settings.transfer_scan_interval_s), adopting(long_work)]

    async def api_keys(api_key: str) -> Principal | None:
        return await resolve_api_key(registry, api_key)

    app = create_service_app(
        runtime,
        title="Registry · 机构、党组织与党员登记",
        description="Institutions, the organisation tree, members and credentials",
        routers=[router, status_router()],
        api_key_resolver=api_keys,
    )
    app.state.registry = registry
    app.state.jobs = long_work
    return app
