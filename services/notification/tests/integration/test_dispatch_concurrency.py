"""The dispatcher sends several deliveries at once (a provider's round trip no longer sets the
pace), never more than `dispatch_concurrency`, and each still exactly once; a delivery waiting for
a contact steps back in the queue rather than filling every pass."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from alliance_notification.adapters.email import SmtpMailer
from alliance_notification.app import create_app
from alliance_notification.domain.deliveries import SendReceipt
from alliance_notification.usecases.dispatch import dispatch_until_idle
from alliance_shared.clock import FixedClock
from alliance_shared.contracts.evaluation import BranchFellBehind
from alliance_shared.contracts.registry import OrganizationUpdated
from alliance_shared.testing import wait_for

from .conftest import bearer, contact, institution_registered, org_opened, publish, shanghai

pytestmark = pytest.mark.integration

INST = "inst-many"
BRANCHES = [f"org-many-{k}" for k in range(7)]


class SlowMailer:
    """The real mailer behind a provider that takes `delay_s` to answer, once `opened` (the test
    opens it when every delivery is queued, so a pass has them all to choose from); counts the
    sends in flight."""

    def __init__(self, mailer: SmtpMailer, delay_s: float) -> None:
        self._mailer, self._delay_s = mailer, delay_s
        self.opened = asyncio.Event()
        self.in_flight = self.most_in_flight = 0

    async def send(self, **message: Any) -> SendReceipt:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.opened.wait()
            await asyncio.sleep(self._delay_s)
            return await self._mailer.send(**message)
        finally:
            self.in_flight -= 1


async def lagging_branches(publisher: Any, inst: str, branches: list[str], mailbox: str, clock: FixedClock) -> None:
    """The institution, its branches (the k-th secretary at `{mailbox}{k}@bank.example`), each fallen behind."""
    await publish(publisher, institution_registered(inst))
    for k, org in enumerate(branches):
        await publish(publisher, org_opened(org, inst, name=f"第{k + 1}党支部", email=f"{mailbox}{k}@bank.example"))
    for org in branches:
        await publish(publisher, BranchFellBehind(organization_id=org, institution_id=inst, status="lagging",
                                                  period="2026-Q3", days_since_last_meeting=75,
                                                  detected_at=clock.now()))


async def test_a_pass_sends_up_to_its_concurrency_at_once_and_each_delivery_once(settings_for, publisher, smtp):
    clock = FixedClock(shanghai(2026, 9, 15, 10))
    settings = settings_for(dispatch_concurrency=3)
    await lagging_branches(publisher, INST, BRANCHES, "shuji", clock)
    mailer = SlowMailer(SmtpMailer(settings), delay_s=0.5)
    app = create_app(settings, clock=clock, mailer=mailer)
    try:
        async with app.router.lifespan_context(app):
            async def emails(status: str | None = None) -> list[dict[str, Any]] | None:
                docs, _ = await app.state.notifier.store.deliveries.search({"channel": "email"}, 50)
                mine = [d for d in docs if d.get("organization_id") in BRANCHES]
                done = len(mine) == len(BRANCHES) and all(status in (None, d["status"]) for d in mine)
                return mine if done else None

            async def all_sent() -> list[dict[str, Any]] | None:
                return await emails("sent")

            await wait_for(emails, what="every branch's reminder queued", timeout_s=90)
            mailer.opened.set()
            sent = await wait_for(all_sent, what="every branch's reminder sent", timeout_s=90)
            await asyncio.sleep(1.0)  # more passes: nothing goes twice
            # the step's SMS has no phone to go to: it waits for one behind the rest of the queue, not at its head
            docs, _ = await app.state.notifier.store.deliveries.search({"channel": "sms"}, 50)
            waiting = [d for d in docs if d.get("organization_id") in BRANCHES]
            assert len(waiting) == len(BRANCHES)
            assert {(d["status"], d["due_at"]) for d in waiting} == {
                ("queued", clock.now() + timedelta(seconds=settings.contact_recheck_s))}
    finally:
        await app.state.http.aclose()

    assert sorted(m["To"] for m in smtp.inbox.messages) == sorted(f"shuji{k}@bank.example" for k in range(7))
    assert all(d["attempts"] == 1 for d in sent)
    assert mailer.most_in_flight == 3  # at once, and never past the setting


async def test_a_reminder_waiting_for_its_contact_goes_out_when_the_registry_sends_one(settings_for, publisher, smtp):
    clock = FixedClock(shanghai(2026, 9, 15, 10))  # fixed: only the contact's arrival can make it due again
    settings = settings_for()
    org = "org-late-contact"
    await publish(publisher, institution_registered(INST))
    await publish(publisher, org_opened(org, INST))  # no secretary's email yet
    await publish(publisher, BranchFellBehind(organization_id=org, institution_id=INST, status="lagging",
                                              period="2026-Q3", days_since_last_meeting=75, detected_at=clock.now()))
    app = create_app(settings, clock=clock)
    try:
        async with app.router.lifespan_context(app):
            async def email(status: str, waiting: bool) -> dict[str, Any] | None:
                query = {"organization_id": org, "channel": "email"}
                docs, _ = await app.state.notifier.store.deliveries.search(query, 5)
                return next((d for d in docs if d["status"] == status and bool(d.get("waiting_contact")) == waiting),
                            None)

            parked = await wait_for(lambda: email("queued", True), what="the email waiting for a contact", timeout_s=60)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://notification") as client:
                shown = (await client.get(f"/api/v1/deliveries/{parked['_id']}", headers=bearer())).json()
            await publish(publisher, OrganizationUpdated(
                organization_id=org, institution_id=INST, institution_ids=[INST], name="零售业务部党支部",
                secretary=contact("张书记", "late.shuji@bank.example", None)))
            sent = await wait_for(lambda: email("sent", False), what="the email sent once its contact came",
                                  timeout_s=60)
    finally:
        await app.state.http.aclose()

    assert parked["due_at"] == clock.now() + timedelta(seconds=settings.contact_recheck_s)
    assert shown["status"] == "queued" and shown["reason_zh"].startswith("等待登记库提供该渠道的联系方式")
    assert [m["To"] for m in smtp.inbox.messages] == ["late.shuji@bank.example"]
    assert sent["attempts"] == 1


async def test_passes_follow_one_another_while_each_finds_a_whole_page(settings_for, publisher, smtp):
    """Seven reminders, a page of two and an hour between the loop's wakes: one wake sends them all."""
    clock = FixedClock(shanghai(2026, 9, 15, 10))
    settings = settings_for(dispatch_page=2, dispatch_interval_s=3600)
    inst, branches = "inst-paged", [f"org-paged-{k}" for k in range(7)]
    await lagging_branches(publisher, inst, branches, "paged", clock)
    app = create_app(settings, clock=clock)
    try:
        async with app.router.lifespan_context(app):
            notifier = app.state.notifier

            async def emails() -> list[dict[str, Any]]:
                docs, _ = await notifier.store.deliveries.search({"channel": "email"}, 50)
                return [d for d in docs if d.get("organization_id") in branches]

            async def all_queued() -> list[dict[str, Any]] | None:
                found = await emails()
                return found if len(found) == len(branches) else None

            await wait_for(all_queued, what="every branch's reminder queued", timeout_s=90)
            # the loop woke once at start-up; this is its next wake, an hour later
            await dispatch_until_idle(notifier, app.state.channels)
            sent = await emails()
    finally:
        await app.state.http.aclose()

    assert sorted(d["status"] for d in sent) == ["sent"] * 7
    assert all(d["attempts"] == 1 for d in sent)
    mine = [m["To"] for m in smtp.inbox.messages if m["To"].startswith("paged")]
    assert sorted(mine) == sorted(f"paged{k}@bank.example" for k in range(7))
