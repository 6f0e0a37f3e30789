"""Fixtures for the notification service's integration tests: a fresh namespace on the real broker
and store, a real SMTP server, signature-checking SMS provider stand-ins, and the app on a clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from alliance_localinfra import create_topics
from alliance_notification.app import create_app
from alliance_notification.settings import NotificationSettings
from alliance_shared.auth import mint_token
from alliance_shared.clock import FixedClock
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.registry import (
    Contact,
    InstitutionClassification,
    InstitutionRegistered,
    OrganizationOpened,
)
from alliance_shared.contracts.topics import (
    ACTIVITY_EVENTS,
    ACTIVITY_REJECTED,
    EVALUATION_EVENTS,
    NOTIFICATION_EVENTS,
    REGISTRY_EVENTS,
)
from alliance_shared.kafka.producer import EventPublisher
from alliance_shared.pii import PiiVault, mask_email, mask_phone
from alliance_shared.settings import DEV_JWT_SECRET, DEV_PII_KEY
from alliance_shared.testing import namespace

from .fakes import HttpStub, Provider, SmtpServer, aliyun_app, tencent_app

SH = ZoneInfo("Asia/Shanghai")
ALIYUN_ID, ALIYUN_SECRET = "LTAI-test-id", "aliyun-test-secret"
TENCENT_ID, TENCENT_SECRET = "AKID-test-id", "tencent-test-secret"
SECRETARIAT = "secretariat@alliance.example"
vault = PiiVault(DEV_PII_KEY)


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


@pytest.fixture
def ns() -> str:
    return namespace("notif")


@pytest.fixture
async def topics(infra, ns) -> str:
    prefix = f"{ns}."
    await asyncio.to_thread(
        create_topics,
        infra.kafka_bootstrap_servers,
        [
            prefix + t
            for t in (
                REGISTRY_EVENTS,
                EVALUATION_EVENTS,
                ACTIVITY_REJECTED,
                ACTIVITY_EVENTS,
                NOTIFICATION_EVENTS,
            )
        ],
        2,
    )
    return prefix


@pytest.fixture
async def publisher(infra, topics) -> AsyncIterator[EventPublisher]:
    pub = EventPublisher(infra.kafka_bootstrap_servers, client_id="notif-tests", topic_prefix=topics)
    await pub.start()
    yield pub
    await pub.stop()


@pytest.fixture
def smtp() -> Any:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def aliyun() -> AsyncIterator[tuple[HttpStub, Provider]]:
    record = Provider()
    stub = HttpStub(aliyun_app({ALIYUN_ID: ALIYUN_SECRET}, record))
    await stub.start()
    yield stub, record
    await stub.stop()


@pytest.fixture
async def tencent() -> AsyncIterator[tuple[HttpStub, Provider]]:
    record = Provider()
    stub = HttpStub(tencent_app({TENCENT_ID: TENCENT_SECRET}, record))
    await stub.start()
    yield stub, record
    await stub.stop()


@pytest.fixture
def settings_for(infra, ns, topics, smtp, aliyun, tencent):
    def build(**overrides: Any) -> NotificationSettings:
        values: dict[str, Any] = dict(
            environment="test",
            kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
            mongodb_uri=infra.mongodb_uri,
            kafka_topic_prefix=topics,
            mongodb_database=ns.replace("-", "_"),
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_from="noreply@alliance.example",
            sms_provider="aliyun",
            sms_fallback_provider="tencent",
            aliyun_sms_endpoint=aliyun[0].url,
            aliyun_access_key_id=ALIYUN_ID,
            aliyun_access_key_secret=ALIYUN_SECRET,
            aliyun_sms_sign_name="市金融党建联盟",
            tencent_sms_endpoint=tencent[0].url,
            tencent_secret_id=TENCENT_ID,
            tencent_secret_key=TENCENT_SECRET,
            tencent_sms_sdk_app_id="1400000000",
            tencent_sms_sign_name="市金融党建联盟",
            secretariat_email=SECRETARIAT,
            receipt_token="receipt-token",
            dispatch_interval_s=0.1,
            escalation_interval_s=0.1,
            digest_interval_s=0.5,
            retry_backoff_s=60,
            max_attempts_per_channel=3,
        )
        values.update(overrides)
        return NotificationSettings(**values)

    return build


@contextlib.asynccontextmanager
async def running(
    settings: NotificationSettings, clock: FixedClock
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app with its lifespan (consumers, loops, relay) and an HTTP client talking to it."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://notification"
        ) as client:
            yield app, client
    await app.state.http.aclose()


def bearer(role: str = "secretariat", **claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(DEV_JWT_SECRET, role=role, **claims)}"}


def contact(name: str, email: str | None, phone: str | None) -> Contact:
    return Contact(
        name=name,
        email_sealed=vault.seal(email) if email else None,
        email_masked=mask_email(email) if email else None,
        phone_sealed=vault.seal(phone) if phone else None,
        phone_masked=mask_phone(phone) if phone else None,
    )


def org_opened(
    org: str,
    inst: str,
    *,
    kind: str = "branch",
    name: str = "零售业务部党支部",
    email: str | None = None,
    phone: str | None = None,
    parent: str | None = None,
) -> OrganizationOpened:
    return OrganizationOpened(
        organization_id=org,
        institution_id=inst,
        institution_ids=[inst],
        name=name,
        kind=kind,
        parent_id=parent,
        established_at=date(2019, 7, 1),
        secretary=contact("张书记", email, phone),
    )


def institution_registered(
    inst: str, name: str = "示例银行深圳分行", admin: Contact | None = None
) -> InstitutionRegistered:
    return InstitutionRegistered(
        institution_id=inst,
        uscc="91440300MA5DC6QX9X",
        name=name,
        classification=InstitutionClassification(
            ownership="state_owned", party_org_status="established_complete", reporting_level="L2"
        ),
        effective_from=date(2026, 1, 1),
        contact=admin,
    )


async def publish(
    publisher: EventPublisher, payload: EventPayload, event: CloudEvent | None = None
) -> CloudEvent:
    event = event or envelope(payload, source="/tests")
    await publisher.publish(payload.kafka_topic, event, key=payload.ordering_key())
    return event
