"""How fast the dispatcher sends a quarter's reminders when each send waits on its provider, against
the channel's own floor in the same run:

    .venv/bin/python bench/notification_dispatch.py [--branches 300] [--latency-ms 100] [--concurrency 1,8]

The notification service runs in-process with its consumers and dispatcher, on a database and topic
prefix of its own per run. One institution's `--branches` branches (each with a secretary's email)
are announced on the registry topic and each falls behind on evaluation's topic; the service opens a
reminder per branch and its dispatcher sends the email through a real SMTP server (aiosmtpd on
127.0.0.1) that takes `--latency-ms` to accept each message, as a provider's API or a relay does.
Timed on the server, from the first message accepted to the last, once per `--concurrency`
(`DISPATCH_CONCURRENCY`); the baseline is the service's own SMTP mailer sending as many messages
to the same server, 8 at a time, with nothing else around it."""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from alliance_localinfra import create_topics, local_infra
from alliance_notification.adapters.email import SmtpMailer
from alliance_notification.app import create_app
from alliance_notification.settings import NotificationSettings
from alliance_shared.clock import FixedClock
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.evaluation import BranchFellBehind
from alliance_shared.contracts.registry import (
    Contact,
    InstitutionClassification,
    InstitutionRegistered,
    OrganizationOpened,
)
from alliance_shared.contracts.topics import TOPICS
from alliance_shared.kafka.producer import EventPublisher
from alliance_shared.pii import PiiVault
from alliance_shared.settings import DEV_PII_KEY
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpu

CLOCK = datetime(2026, 9, 15, 2, 0, tzinfo=UTC)  # 10:00 in Shenzhen, outside quiet hours
vault = PiiVault(DEV_PII_KEY)


class SlowSink:
    """An SMTP server that takes `latency_s` to accept each message (its own thread and loop)."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.accepted: list[float] = []  # when each message was accepted (perf_counter)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.latency_s)
        self.accepted.append(time.perf_counter())
        return "250 OK"


def announcements(inst: str, branches: int) -> list[Any]:
    out: list[Any] = [InstitutionRegistered(
        institution_id=inst, uscc="91440300MA5DC6QX9X", name="示例银行深圳分行",
        classification=InstitutionClassification(ownership="state_owned", party_org_status="established_complete",
                                                  reporting_level="L2"),
        effective_from=date(2026, 1, 1))]
    for k in range(branches):
        email = f"shuji{k}@bank.example"
        out.append(OrganizationOpened(
            organization_id=f"{inst}-org-{k}", institution_id=inst, institution_ids=[inst], kind="branch",
            name=f"第{k + 1}党支部", established_at=date(2019, 7, 1),
            secretary=Contact(name="书记", email_sealed=vault.seal(email), email_masked=email[:2] + "***")))
    return out


async def one_run(infra: Any, sink: SlowSink, sink_port: int, branches: int, concurrency: int,
                  progress: Progress) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    prefix, inst = f"bench-{run}-", f"inst-{run}"
    await asyncio.to_thread(create_topics, infra.kafka_bootstrap_servers, [prefix + t for t in TOPICS])
    settings = NotificationSettings(
        environment="test", kafka_bootstrap_servers=infra.kafka_bootstrap_servers, mongodb_uri=infra.mongodb_uri,
        kafka_topic_prefix=prefix, mongodb_database=f"bench_dispatch_{run}", smtp_host="127.0.0.1",
        smtp_port=sink_port, smtp_from="noreply@alliance.example", dispatch_interval_s=0.2,
        escalation_interval_s=60, digest_interval_s=3600, dispatch_concurrency=concurrency)
    publisher = EventPublisher(infra.kafka_bootstrap_servers, client_id="bench", topic_prefix=prefix)
    await publisher.start()
    try:
        for payload in announcements(inst, branches):
            await publisher.publish(payload.kafka_topic, envelope(payload, source="/bench"), key=payload.ordering_key())
        for k in range(branches):
            payload = BranchFellBehind(organization_id=f"{inst}-org-{k}", institution_id=inst, status="lagging",
                                       period="2026-Q3", days_since_last_meeting=75, detected_at=CLOCK)
            await publisher.publish(payload.kafka_topic, envelope(payload, source="/bench"), key=payload.ordering_key())
    finally:
        await publisher.stop()
    app = create_app(settings, clock=FixedClock(CLOCK))
    task = progress.add_task(f"concurrency {concurrency}", total=branches)
    before = len(sink.accepted)
    async with app.router.lifespan_context(app):
        with cpu.spent() as used:
            while (sent := len(sink.accepted) - before) < branches:
                times = sink.accepted[before:]
                rate = f" · {(sent - 1) / (times[-1] - times[0]):,.1f}/s" if sent > 1 and times[-1] > times[0] else ""
                progress.update(task, completed=sent, description=f"concurrency {concurrency}{rate}")
                await asyncio.sleep(0.2)
            progress.update(task, completed=branches)
    await app.state.http.aclose()
    times = sink.accepted[before:before + branches]
    seconds = times[-1] - times[0]  # first message accepted to the last: the dispatcher's pace
    return {"concurrency": concurrency, "seconds": seconds, "rate": (branches - 1) / seconds,
            "cpu_us": ", ".join(f"{n} {used[n] / branches * 1e6:,.0f} µs"
                                for n in ("python", "ferretdb", "postgresql", "kafka"))}


async def channel_floor(settings: NotificationSettings, count: int, at_once: int = 8) -> float:
    """The service's SMTP mailer alone: `count` messages, `at_once` at a time; seconds."""
    mailer = SmtpMailer(settings)
    gate = asyncio.Semaphore(at_once)

    async def one(k: int) -> None:
        async with gate:
            await mailer.send(delivery_id=f"floor-{k}", to=f"shuji{k}@bank.example", subject="提醒",
                              text="请按时召开支部委员会。")

    started = time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(count)))
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    sink = SlowSink(args.latency_ms / 1000)
    with socket.socket() as probe:  # a free port (aiosmtpd checks its server by connecting to it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with local_infra(kafka=True, store=True) as infra:
            print(f"{args.branches} reminders, SMTP accepting each in {args.latency_ms} ms, "
                  f"store {infra.mongodb_uri}")
            floor_settings = NotificationSettings(smtp_host="127.0.0.1", smtp_port=port,
                                                  smtp_from="noreply@alliance.example")
            floor = await channel_floor(floor_settings, args.branches)
            sink.accepted.clear()
            print(f"  baseline, the SMTP mailer alone, 8 at a time: {args.branches / floor:,.0f} messages/s "
                  f"({floor:.1f} s)")
            results = []
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn()) as progress:
                for concurrency in args.concurrency:
                    results.append(await one_run(infra, sink, port, args.branches, concurrency, progress))
            first = results[0]
            for r in results:
                print(f"  dispatcher, concurrency {r['concurrency']}: {r['rate']:,.1f} reminders/s"
                      f" ({r['seconds']:.1f} s)"
                      f" · ÷ concurrency {first['concurrency']} {r['rate'] / first['rate']:.1f}×"
                      f" · ÷ baseline {r['rate'] / (args.branches / floor):.2f} · CPU each: {r['cpu_us']}")
    finally:
        controller.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--branches", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8])
    asyncio.run(main(parser.parse_args()))
