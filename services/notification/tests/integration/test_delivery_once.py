"""A reminder goes out at most once per delivery across a fault between sending it and recording it:
the store going away right after the mail server accepted the message (its connections reset, then
refused, then back on the same port), or the service stopping there; each is replayed and the
mailbox counted."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from alliance_notification.adapters.email import SmtpMailer
from alliance_notification.app import create_app
from alliance_notification.domain.deliveries import SendReceipt
from alliance_notification.usecases.dispatch import SEND_LEASE
from alliance_shared.clock import FixedClock
from alliance_shared.contracts.evaluation import BranchFellBehind
from alliance_shared.contracts.topics import NOTIFICATION_EVENTS
from alliance_shared.testing import OutageProxy, TopicReader, wait_for

from .conftest import bearer, institution_registered, org_opened, publish, shanghai

pytestmark = pytest.mark.integration

ORG, INST = "org-once", "inst-once"
EMAIL = "li.shuji@bank.example"  # no phone: the step's SMS waits for a contact and stays out of it


def lagging(clock: FixedClock) -> BranchFellBehind:
    return BranchFellBehind(
        organization_id=ORG,
        institution_id=INST,
        status="lagging",
        period="2026-Q3",
        days_since_last_meeting=75,
        detected_at=clock.now(),
    )


class StoreGoesAwayAfterSending:
    """The real mailer; right after the server accepted the first message, the store goes away
    for `outage_s` (before the dispatcher could record the send)."""

    def __init__(self, mailer: SmtpMailer, store: OutageProxy, outage_s: float) -> None:
        self._mailer, self._store, self._outage_s = mailer, store, outage_s
        self.back: asyncio.Task[None] | None = None

    async def send(self, **message: Any) -> SendReceipt:
        receipt = await self._mailer.send(**message)
        if self.back is None:
            await self._store.down()
            self.back = asyncio.create_task(self._come_back())
        return receipt

    async def _come_back(self) -> None:
        await asyncio.sleep(self._outage_s)
        await self._store.up()


class StopsAfterSending:
    """The real mailer; after the server accepted the message the process stops (here: hangs
    until the service is shut down), so the send is never recorded."""

    def __init__(self, mailer: SmtpMailer) -> None:
        self._mailer = mailer
        self.sent = asyncio.Event()

    async def send(self, **message: Any) -> SendReceipt:
        await self._mailer.send(**message)
        self.sent.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def email_delivery(app: Any) -> dict[str, Any] | None:
    docs, _ = await app.state.notifier.store.deliveries.search({"organization_id": ORG, "channel": "email"}, 5)
    return docs[0] if docs else None


async def status_is(app: Any, *statuses: str) -> dict[str, Any] | None:
    doc = await email_delivery(app)
    return doc if doc and doc["status"] in statuses else None


async def test_a_reminder_email_goes_out_once_when_the_store_goes_away_between_sending_and_recording(
    settings_for, publisher, smtp, infra
):
    host, port = infra.mongodb_uri.split("//")[1].rstrip("/").split(":")
    store = OutageProxy(host, int(port))
    await store.up()
    settings, clock = settings_for(mongodb_uri=f"mongodb://{store.address}/"), FixedClock(shanghai(2026, 9, 15, 10))
    await publish(publisher, institution_registered(INST))
    await publish(publisher, org_opened(ORG, INST, email=EMAIL))
    await publish(publisher, lagging(clock))
    mailer = StoreGoesAwayAfterSending(SmtpMailer(settings), store, outage_s=1.5)
    app = create_app(settings, clock=clock, mailer=mailer)
    try:
        async with app.router.lifespan_context(app):
            await wait_for(lambda: _true(mailer.back is not None), what="the first send", timeout_s=60)
            assert mailer.back is not None
            await mailer.back
            sent = await wait_for(lambda: status_is(app, "sent"), what="the send recorded", timeout_s=60)
            # the replay: passes of the dispatcher, then again once every lease has run out
            await asyncio.sleep(1.0)
            clock.advance(SEND_LEASE + timedelta(minutes=5))
            await asyncio.sleep(1.0)
            after = await email_delivery(app)
    finally:
        await app.state.http.aclose()
        await store.down()

    assert [m["To"] for m in smtp.inbox.messages] == [EMAIL]
    assert smtp.inbox.messages[0]["Message-ID"] == f"<{sent['_id']}@alliance.local>"
    assert after is not None and after["status"] == "sent" and after["attempts"] == 1
    assert [h["status"] for h in after["history"]] == ["queued", "sent"]


async def test_a_reminder_email_sent_by_a_service_that_stopped_before_recording_it_is_not_sent_again(
    settings_for, publisher, smtp, topics, infra
):
    settings, clock = settings_for(), FixedClock(shanghai(2026, 9, 15, 10))
    await publish(publisher, institution_registered(INST))
    await publish(publisher, org_opened(ORG, INST, email=EMAIL))
    await publish(publisher, lagging(clock))
    async with TopicReader(infra.kafka_bootstrap_servers, topics + NOTIFICATION_EVENTS) as announced:
        stopping = StopsAfterSending(SmtpMailer(settings))
        first = create_app(settings, clock=clock, mailer=stopping)
        async with first.router.lifespan_context(first):
            await asyncio.wait_for(stopping.sent.wait(), timeout=60)
        await first.state.http.aclose()

        # the replay: a new process, well after any lease the stopped one held
        clock.advance(SEND_LEASE + timedelta(minutes=5))
        again = create_app(settings, clock=clock)
        async with again.router.lifespan_context(again):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=again), base_url="http://notification"
            ) as client:
                unknown = await wait_for(
                    lambda: status_is(again, "failed"), what="the send given up as unknown", timeout_s=60
                )
                await asyncio.sleep(1.0)  # more passes of the dispatcher
                shown = (await client.get(f"/api/v1/deliveries/{unknown['_id']}", headers=bearer())).json()
                dead = (await client.get("/api/v1/dead-letters", headers=bearer())).json()["items"]
                # the mail server (or the recipient) says it arrived after all: the receipt settles it
                receipt = await client.post(
                    "/api/v1/receipts",
                    params={"token": "receipt-token"},
                    json={"delivery_id": unknown["_id"], "status": "delivered", "provider": "smtp"},
                )
                settled = await email_delivery(again)
        await again.state.http.aclose()
        events = await announced.wait_for_events(
            3, where=lambda e: e.data["delivery_id"] == unknown["_id"], timeout_s=30
        )

    assert [m["To"] for m in smtp.inbox.messages] == [EMAIL]
    assert unknown["last_error_code"] == "outcome_unknown" and unknown["attempts"] == 0
    assert [h["status"] for h in unknown["history"]] == ["queued", "failed"]
    assert shown["status"] == "failed" and "发送结果未知" in shown["reason_zh"]
    assert [d["delivery_id"] for d in dead] == [unknown["_id"]]
    assert receipt.status_code == 200 and settled is not None and settled["status"] == "delivered"
    changes = [(e.data["status"], e.data.get("error_code")) for e in events]
    assert changes == [("queued", None), ("failed", "outcome_unknown"), ("delivered", None)]


async def _true(value: bool) -> bool:
    return value
