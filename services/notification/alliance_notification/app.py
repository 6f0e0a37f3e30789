"""The composition root: settings, store, channels, consumers and loops wired into one app."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from alliance_shared.clock import Clock, SystemClock
from alliance_shared.http import create_service_app
from alliance_shared.pii import PiiVault
from alliance_shared.runtime import Runtime
from fastapi import FastAPI

from .adapters.email import SmtpMailer
from .adapters.sms import SmsProvider, build_sms_providers
from .adapters.store import INDEXES, OUTBOX_COLLECTIONS
from .domain.default_templates import DEFAULT_TEMPLATES
from .domain.rules import DEFAULT_RULES
from .entrypoints.api import router
from .entrypoints.consumers import consumer_specs
from .entrypoints.scheduler import background_loops
from .handlers import Notifier
from .settings import NotificationSettings
from .usecases.dispatch import Channels, Mailer


def create_app(
    settings: NotificationSettings | None = None,
    *,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    sms: Sequence[SmsProvider] | None = None,
    consumer_group: str | None = None,
) -> FastAPI:
    """The notification service. Tests pass a clock; real channels come from settings unless given."""
    settings = settings or NotificationSettings()
    clock = clock or SystemClock()
    # no retries inside the HTTP client: our dispatcher decides, with our delivery id as the truth
    http = httpx.AsyncClient(timeout=settings.sms_timeout_s, transport=httpx.AsyncHTTPTransport(retries=0))
    channels = Channels(
        mailer=mailer or SmtpMailer(settings),
        sms=list(sms) if sms is not None else build_sms_providers(settings, http),
        vault=PiiVault(settings.pii_encryption_key),
    )
    runtime = Runtime(settings=settings, clock=clock, indexes=INDEXES, outbox_collections=OUTBOX_COLLECTIONS)
    notifier = Notifier(runtime, clock, settings)
    group = consumer_group or settings.service_name
    runtime.consumers = consumer_specs(notifier, group)
    runtime.background = background_loops(notifier, channels)

    async def started(rt: Runtime) -> None:
        await notifier.store.catalog.seed(DEFAULT_RULES, DEFAULT_TEMPLATES)

    app = create_service_app(
        runtime,
        title="Alliance notification service",
        description="提醒与投递 / reminders by email and SMS, escalation, delivery tracking",
        routers=[router],
        on_started=started,
    )
    app.state.notifier = notifier
    app.state.channels = channels
    app.state.http = http
    return app
