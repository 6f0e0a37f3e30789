"""The composition root of the activity service: the one place its parts are wired."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from alliance_shared.clock import Clock, SystemClock
from alliance_shared.contracts.topics import ACTIVITY_INGEST, EVALUATION_EVENTS, REGISTRY_EVENTS
from alliance_shared.http import create_service_app
from alliance_shared.ids import uuid4
from alliance_shared.kafka.consumer import ConsumerPolicy, EventDispatch, with_context
from alliance_shared.pii import PiiVault
from alliance_shared.runtime import ConsumerSpec, Runtime, every
from fastapi import FastAPI

from .adapters import projection as projection_adapter
from .adapters import reviews as reviews_adapter
from .adapters import submissions as submissions_adapter
from .adapters.keys import ApiKeys
from .adapters.period_locks import PeriodLockStore
from .adapters.projection import RegistryProjection
from .adapters.registry_names import RosterNames
from .adapters.reviews import ReviewStore
from .adapters.submissions import SubmissionStore
from .entrypoints import conformance, events, manual, reviews, streaming
from .entrypoints.deps import api_key_resolver
from .handlers import KEY_HANDLERS, REGISTRY_HANDLERS, RegistryCopy
from .settings import ActivitySettings
from .usecases.ingestion import IngestSubmissions, arm_stranded_submissions
from .usecases.period_gate import PERIOD_HANDLERS, SubmissionGate
from .usecases.reviews import Reviews
from .usecases.unit import ActivityUnit


def create_app(settings: ActivitySettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or ActivitySettings()
    clock = clock or SystemClock()
    runtime = Runtime(
        settings=settings,
        clock=clock,
        indexes=[*projection_adapter.INDEXES, *submissions_adapter.INDEXES, *reviews_adapter.INDEXES],
        outbox_collections=[submissions_adapter.SUBMISSIONS],  # stranded batches and review steps
    )
    projection = RegistryProjection(runtime)
    keys = ApiKeys(projection, settings.api_key_cache_max_age_s)
    submissions = SubmissionStore(runtime)
    reviews_store = ReviewStore(runtime)
    locks = PeriodLockStore(runtime)
    ingest = IngestSubmissions(
        runtime, projection, submissions, clock, timedelta(seconds=settings.future_tolerance_s),
        gate=SubmissionGate(locks, reviews_store), pass_max_events=settings.ingest_pass_max_events,
    )

    async def sweep_stranded(_: Runtime) -> None:
        await every(
            max(1.0, settings.outbox_grace_s / 3),
            lambda: arm_stranded_submissions(submissions, clock, settings.outbox_grace_s),
            name="arm-stranded-submissions",
        )

    principals = (streaming.L3Principals(keys, PiiVault(settings.pii_encryption_key))
                  if settings.principal_check_enabled else None)
    stream = streaming.StreamIngest(ingest, principals)
    period_dispatch = EventDispatch(with_context(PERIOD_HANDLERS, locks))
    key_listener = EventDispatch(with_context(KEY_HANDLERS, keys))
    runtime.consumers = [
        # every projection write is an idempotent upsert, and a redelivered batch replays in order:
        # dedupe marks would be two more store commands per registry event, for nothing
        ConsumerSpec(
            settings.registry_group,
            [REGISTRY_EVENTS],
            EventDispatch(with_context(REGISTRY_HANDLERS, RegistryCopy(projection, keys))),
            # a batch of facts costs the projection three store commands a collection, however many
            policy=ConsumerPolicy(batch_max_records=2000),
            dedupe=False,
            on_batch_end=projection.flush,
        ),
        # every process hears every key event in a group of its own, from the topic's end, and
        # applies it to its key cache at once: a revocation bites within a second on every replica
        ConsumerSpec(
            f"{settings.credentials_group}.{socket.gethostname()}.{os.getpid()}.{uuid4().hex[:8]}",
            [REGISTRY_EVENTS],
            key_listener,
            # a fetch passes over a whole backlog in one turn of the loop (nothing of it is decoded)
            policy=ConsumerPolicy(auto_offset_reset="latest", batch_max_records=5000),
            dedupe=False,
            only_types=key_listener.event_types,
        ),
        # the ingestion path dedupes by event id itself, and a rejected id may come again once fixed
        ConsumerSpec(
            settings.ingest_group, [ACTIVITY_INGEST], stream, dedupe=False, on_batch_end=stream.end_batch
        ),
        # closed periods and unlock exceptions: idempotent upserts, a few a quarter
        ConsumerSpec(
            settings.periods_group, [EVALUATION_EVENTS], period_dispatch, dedupe=False,
            only_types=period_dispatch.event_types,
        ),
    ]
    async def refresh_period_locks(_: Runtime) -> None:
        await every(settings.period_locks_max_age_s, locks.refresh, name="period-locks-refresh")

    runtime.background = [sweep_stranded, refresh_period_locks]
    app = create_service_app(
        runtime,
        title="联盟活动服务 / Alliance activity service",
        description="三级成熟度上报: 表格与表单、批量接口、流式与签名回调 / "
        "L1 upload and form, L2 batch API, L3 Kafka and signed webhook",
        routers=[events.router, manual.router, streaming.router, reviews.router, conformance.router],
        api_key_resolver=api_key_resolver(keys),
    )
    app.state.activity = ActivityUnit(settings, ingest, projection, submissions, keys)
    app.state.clock = clock
    app.state.reviews = Reviews(reviews_store, projection, ingest, clock)
    app.state.roster_names = RosterNames(settings.registry_url, settings.registry_timeout_s)  # the form's names
    return app
