"""The composition root: settings, store, channels, consumers and loops wired into one app."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from alliance_shared.clock import Clock, SystemClock
from alliance_shared.http import create_service_app
from alliance_shared.pii import PiiVault
from alliance_shared.runtime import Runtime
from fastapi import FastAPI

from .adapters.aliyun import AliyunSms
from .adapters.email import SmtpMailer
from .adapters.sms import HttpSms, LogSms, SmsProvider
from .adapters.store import INDEXES, OUTBOX_COLLECTIONS, Store
from .adapters.tencent import TencentSms
from .domain.default_templates import DEFAULT_TEMPLATES
from .domain.rules import DEFAULT_RULES
from .entrypoints.api import router
from .entrypoints.consumers import consumer_specs
from .entrypoints.scheduler import background_loops
from .handlers import NotificationUnit
from .settings import NotificationSettings
from .usecases.dispatch import Channels, Mailer


def build_sms_providers(settings: NotificationSettings, client: httpx.AsyncClient) -> list[SmsProvider]:
    """The primary provider and, when configured, the fallback, in the order they are tried."""
    def one(name: str) -> SmsProvider:
        if name == "aliyun":
            return AliyunSms(
                endpoint=settings.aliyun_sms_endpoint,
                access_key_id=settings.aliyun_access_key_id,
                access_key_secret=settings.aliyun_access_key_secret,
                sign_name=settings.aliyun_sms_sign_name,
                region_id=settings.aliyun_region_id,
                client=client,
            )
        if name == "tencent":
            return TencentSms(
                endpoint=settings.tencent_sms_endpoint,
                secret_id=settings.tencent_secret_id,
                secret_key=settings.tencent_secret_key,
                sdk_app_id=settings.tencent_sms_sdk_app_id,
                sign_name=settings.tencent_sms_sign_name,
                region=settings.tencent_region,
                client=client,
            )
        if name == "http":
            if not settings.sms_http_url:
                raise ValueError("SMS_PROVIDER=http needs SMS_HTTP_URL")
            return HttpSms(settings.sms_http_url, client)
        return LogSms()

    names: Sequence[str] = [settings.sms_provider]
    if settings.sms_fallback_provider and settings.sms_fallback_provider != settings.sms_provider:
        names = [*names, settings.sms_fallback_provider]
    return [one(n) for n in names]


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
    notifier = NotificationUnit(lambda: Store(runtime.db), clock, settings, runtime.notify_outbox)
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
