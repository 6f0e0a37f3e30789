"""The dashboard in a real browser: the evaluation app served by uvicorn on a free 127.0.0.1 port
(with its lifespan: consumers, rescore loop, outbox relay) on the shared broker and store under a
fresh namespace, fed a scripted quarter through the real topics, and headless Debian Chromium
driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from alliance_evaluation.app import create_app
from alliance_evaluation.settings import EvaluationSettings
from alliance_shared.auth import mint_token
from alliance_shared.clock import FixedClock
from alliance_shared.contracts import activity as act
from alliance_shared.contracts import notification as note
from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.topics import all_topics
from alliance_shared.kafka.producer import EventPublisher
from alliance_shared.testing import at, namespace, wait_for
from playwright.async_api import Browser, async_playwright

ARTIFACTS = Path(__file__).resolve().parents[4] / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PERIOD = "2026-Q3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """uvicorn in a thread of its own (its own event loop), lifespan on."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, lifespan="on", log_config=None, access_log=False
            )
        )
        self.thread = threading.Thread(target=self.server.run, name="dashboard-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the evaluation app did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(60)


@dataclass
class Quarter:
    """What the test scripted, so assertions can name it."""

    server: LiveServer
    settings: EvaluationSettings
    ids: dict[str, str] = field(default_factory=dict)  # scripted name → CloudEvent id
    heat: dict[str, dict[str, int]] = field(default_factory=lambda: HEAT)

    def token(
        self, role: str = "secretariat", institution_id: str | None = None, subject: str = "sec-1"
    ) -> str:
        return mint_token(
            self.settings.auth_jwt_secret, role=role, subject=subject, institution_id=institution_id
        )

    def headers(self, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**kw)}"}


def _cls(ownership: str, level: str, sector: str) -> reg.InstitutionClassification:
    return reg.InstitutionClassification(
        ownership=ownership, party_org_status="established_complete", reporting_level=level, sector=sector
    )


# The scripted quarter (2026-Q3), counted by hand:
#   institutions: i1 国有 L2 (branches b1, b2), i2 民营 L1 (joint branch b3, one pocket member),
#   i3 新兴 L3 (branch b4, silent since April ⇒ lagging, one delivered SMS reminder)
#   meetings per month (heat map): b1 Jul 2 · Aug 3 · Sep 3 (and one reported twice); b2 Aug 1; b3 Sep 1;
#   b4 Apr 1
INSTITUTIONS = [
    ("i1", "国有银行甲", "state_owned", "L2", "bank"),
    ("i2", "民营证券乙", "private", "L1", "securities"),
    ("i3", "新兴金融丙", "emerging", "L3", "fintech"),
]
BRANCHES = [
    ("b1", "i1", "branch"),
    ("b2", "i1", "branch"),
    ("b3", "i2", "joint_branch"),
    ("b4", "i3", "branch"),
]
MEMBERS = [
    ("m1", "b1", "i1", False),
    ("m2", "b1", "i1", False),
    ("m3", "b2", "i1", False),
    ("m4", "b3", "i2", True),
]
MEETINGS = [  # (name, branch, institution, kind, held, attendees)
    ("b1-jul-committee", "b1", "i1", "branch_committee_meeting", at(2026, 7, 8), ["m1", "m2"]),
    ("b1-jul-theme", "b1", "i1", "theme_party_day", at(2026, 7, 20), ["m1", "m2"]),
    ("b1-aug-committee", "b1", "i1", "branch_committee_meeting", at(2026, 8, 7), ["m1", "m2"]),
    ("b1-aug-theme", "b1", "i1", "theme_party_day", at(2026, 8, 20), ["m1"]),
    ("b1-aug-lesson", "b1", "i1", "party_lesson", at(2026, 8, 25), ["m1", "m2"]),
    ("b1-sep-committee", "b1", "i1", "branch_committee_meeting", at(2026, 9, 8), ["m1", "m2"]),
    ("b1-sep-theme", "b1", "i1", "theme_party_day", at(2026, 9, 20), ["m1", "m2"]),
    ("b1-sep-general", "b1", "i1", "branch_general_meeting", at(2026, 9, 5), ["m1", "m2"]),
    ("b2-aug-committee", "b2", "i1", "branch_committee_meeting", at(2026, 8, 12), ["m3"]),
    ("b3-sep-theme", "b3", "i2", "theme_party_day", at(2026, 9, 15), ["m4"]),
    ("b4-apr-committee", "b4", "i3", "branch_committee_meeting", at(2026, 4, 10), []),
    # b1's September theme day reported again a day later: the same instant and attendees (counts once)
    ("b1-sep-theme-again", "b1", "i1", "theme_party_day", at(2026, 9, 20), ["m1", "m2"]),
]
# the plausibility flags activity raised at ingest (the data-quality panel lists them by kind)
FLAGS = {"b1-sep-theme-again": "duplicate_meeting", "b1-aug-lesson": "minutes_reused,photo_reused"}
RECEIVED_LATER = {"b1-sep-theme-again": timedelta(days=1)}
HEAT = {
    "b1": {"2026-07": 2, "2026-08": 3, "2026-09": 3},
    "b2": {"2026-08": 1},
    "b3": {"2026-09": 1},
    "b4": {"2026-04": 1},
}


async def script_quarter(publisher: EventPublisher, ids: dict[str, str]) -> int:
    count = 0

    async def publish(payload: EventPayload, name: str | None = None, **ext: Any) -> None:
        nonlocal count
        event = envelope(payload, source="/tests/ui", **ext)
        await publisher.publish(payload.kafka_topic, event, payload.ordering_key())
        count += 1
        if name:
            ids[name] = event.id

    for inst_id, name, ownership, level, sector in INSTITUTIONS:
        await publish(
            reg.InstitutionRegistered(
                institution_id=inst_id,
                uscc="91440300MA5XXXXXX0",
                name=name,
                classification=_cls(ownership, level, sector),
                effective_from=date(2020, 1, 1),
            )
        )
    for org_id, inst_id, kind in BRANCHES:
        await publish(
            reg.OrganizationOpened(
                organization_id=org_id,
                institution_id=inst_id,
                institution_ids=[inst_id],
                name=f"{dict((i[0], i[1]) for i in INSTITUTIONS)[inst_id]}第{org_id[1:]}支部",
                kind=kind,
                established_at=date(2020, 1, 1),
            )
        )
    for member_id, org_id, inst_id, pocket in MEMBERS:
        await publish(
            reg.MemberRegistered(
                member_id=member_id,
                organization_id=org_id,
                institution_id=inst_id,
                status="full",
                joined_at=date(2025, 1, 1),
                pocket=pocket,
            )
        )
    for name, org_id, inst_id, kind, held, attendees in MEETINGS:
        await publish(
            act.MeetingHeld(
                organization_id=org_id,
                meeting_kind=kind,
                held_at=held,
                attendee_ids=attendees,
                expected_count=max(1, len(attendees)),
                topic="学习贯彻",
            ),
            name=name,
            institutionid=inst_id,
            reportinglevel=dict((i[0], i[3]) for i in INSTITUTIONS)[inst_id],
            channel="batch",
            receivedat=held + RECEIVED_LATER.get(name, timedelta(0)),
            flags=FLAGS.get(name),
            # provenance as activity writes it for an upload: which submission, file and row
            batchid=f"upload-{held:%Y%m}",
            filename="三会一课.xlsx",
            sourcerow=2 + sum(1 for m in MEETINGS[: [m[0] for m in MEETINGS].index(name)] if m[4].month == held.month),
        )
    await publish(
        note.DeliveryStatusChanged(
            delivery_id="d-b4-1",
            rule="lagging",
            step="secretary",
            organization_id="b4",
            institution_id="i3",
            channel="sms",
            status="delivered",
            recipient_masked="138****5678",
            at=at(2026, 10, 9),
        )
    )
    await publish(  # the provider's receipt said why the second SMS did not arrive
        note.DeliveryStatusChanged(
            delivery_id="d-b4-2",
            rule="lagging",
            step="secretary",
            organization_id="b4",
            institution_id="i3",
            channel="sms",
            status="failed",
            recipient_masked="139****0000",
            at=at(2026, 10, 10),
            error="isv.MOBILE_NUMBER_ILLEGAL",
            error_code="isv.MOBILE_NUMBER_ILLEGAL",
            reason_zh="手机号码格式错误",
        )
    )
    return count


@pytest.fixture(scope="module")
async def quarter(infra: Any) -> AsyncIterator[Quarter]:
    ns = namespace("ui")
    settings = EvaluationSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        kafka_topic_prefix=f"{ns}.",
        mongodb_database=ns.replace("-", "_"),
        environment="test",
        rescore_interval_s=0.5,
        lagging_scan_interval_s=3600,
    )
    from alliance_localinfra import create_topics

    await asyncio.to_thread(
        create_topics,
        settings.kafka_bootstrap_servers,
        [settings.kafka_topic_prefix + t for t in all_topics()],
        1,
    )
    app = create_app(settings, clock=FixedClock(at(2026, 10, 12)))
    publisher = EventPublisher(settings.kafka_bootstrap_servers, topic_prefix=settings.kafka_topic_prefix)
    await publisher.start()
    with LiveServer(app) as server:
        q = Quarter(server, settings)
        published = await script_quarter(publisher, q.ids)
        runner = app.state.runtime.runners[0]
        async with httpx.AsyncClient(base_url=server.url, headers=q.headers(), timeout=60) as client:

            async def consumed() -> bool:
                return bool(runner.state.handled + runner.state.duplicates >= published)

            await wait_for(consumed, timeout_s=120, what=f"{published} events consumed")

            async def scored() -> bool:  # the rescore loop drained the queue and refreshed the overview
                o = (await client.get("/api/v1/overview", params={"period": PERIOD})).json()
                b = await client.get(f"/api/v1/periods/{PERIOD}/organizations/b1")
                return (
                    o.get("institutions") == 3
                    and b.status_code == 200
                    and b.json()["breakdown"][0]["evidence"] != []
                )

            await wait_for(scored, timeout_s=120, interval_s=0.5, what="the quarter scored")
            await asyncio.sleep(1.5)  # one more rescore round: nothing left dirty
            scan = await client.post("/api/v1/scans/lagging", params={"wait": "true"})
            assert scan.status_code == 200, scan.text
        yield q
    await publisher.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        await b.close()


@pytest.fixture
def artifacts() -> Iterator[Path]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield ARTIFACTS


# 挂靠建: a branch of 深圳丙融资担保 (ao) attached to the committee of 深圳市金融行业协会 (ah)
ATTACHED_BRANCH = "深圳丙融资担保有限公司党支部（挂靠于深圳市金融行业协会党委）"


@pytest.fixture(scope="module")
async def hosted(infra: Any) -> AsyncIterator[Quarter]:
    ns = namespace("ui-att")
    settings = EvaluationSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers, mongodb_uri=infra.mongodb_uri,
        kafka_topic_prefix=f"{ns}.", mongodb_database=ns.replace("-", "_"), environment="test",
        rescore_interval_s=0.5, lagging_scan_interval_s=3600,
    )
    from alliance_localinfra import create_topics

    await asyncio.to_thread(create_topics, settings.kafka_bootstrap_servers,
                            [settings.kafka_topic_prefix + t for t in all_topics()], 1)
    app = create_app(settings, clock=FixedClock(at(2026, 10, 12)))
    publisher = EventPublisher(settings.kafka_bootstrap_servers, topic_prefix=settings.kafka_topic_prefix)
    await publisher.start()
    events = [
        *(reg.InstitutionRegistered(institution_id=i, uscc="91440300MA5XXXXXX0", name=n,
                                    classification=_cls(o, lvl, sector), effective_from=date(2020, 1, 1))
          for i, n, o, lvl, sector in (("ah", "深圳市金融行业协会", "state_owned", "L2", "association"),
                                       ("ao", "深圳丙融资担保有限公司", "private", "L1", "guarantee"))),
        *(reg.OrganizationOpened(organization_id=o, institution_id=i, institution_ids=[i], name=n, kind=k, parent_id=p,
                                 established_at=date(2020, 1, 1))
          for o, i, n, k, p in (("ah-c", "ah", "中共深圳市金融行业协会委员会", "committee", None),
                                ("ah-b", "ah", "协会机关党支部", "branch", "ah-c"),
                                ("ao-a", "ao", ATTACHED_BRANCH, "affiliated_branch", "ah-c"))),
        reg.MemberRegistered(member_id="am1", organization_id="ah-b", institution_id="ah", status="full",
                             joined_at=date(2025, 1, 1)),
        reg.MemberRegistered(member_id="am2", organization_id="ao-a", institution_id="ao", status="full",
                             joined_at=date(2025, 1, 1)),
    ]  # fmt: skip
    with LiveServer(app) as server:
        q = Quarter(server, settings)
        for p in events:
            await publisher.publish(p.kafka_topic, envelope(p, source="/tests/ui"), p.ordering_key())
        async with httpx.AsyncClient(base_url=server.url, headers=q.headers(), timeout=60) as client:

            async def scored() -> bool:
                r = await client.get(f"/api/v1/periods/{PERIOD}/institutions/ao")
                return r.status_code == 200 and [b["id"] for b in r.json()["branches"]] == ["ao-a"]

            await wait_for(scored, timeout_s=120, interval_s=0.5, what="the affiliated branch scored")
        yield q
    await publisher.stop()
