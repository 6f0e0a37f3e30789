"""`make chaos [TRIALS=18]`: a fault campaign that counts. It starts a platform of its own on spare
ports (Kafka, the store and the four services, each a process under its control), and per trial
kill -9s one target — activity, evaluation, Kafka, the store (FerretDB), notification or registry,
rotating by trial number — while an institution sends events through the L1 upload (CSV), the L2
batch API, the signed webhook and L3 Kafka (records signed with its API key, the principal check
on), each client retrying with the same event ids until it is answered (idempotent retries), and
while notification reminds a burst of lagging branches. After the target is restarted and
everything has settled, every event a channel acknowledged must be stored exactly once by activity
and by evaluation, each branch's secretary reminded exactly once, and no service may have said it
was ready while one of its consumers was not consuming.

    python scripts/chaos.py [--trials 6] [--events 4000] [--first-trial 1] [--targets activity,kafka]

Prints a table (trial, target, events sent, lost, duplicates stored, republished, reminders, sent
twice, readiness lies, recovery seconds) and exits 1 on any loss, double count, reminder sent twice
or missing, or readiness lie. tests/e2e/test_chaos.py runs a short form in `make test`.

Counted per trial:
* sent: distinct events the channels acknowledged (202 from the batch API or webhook, an acks=all
  write for Kafka); an event rejected with a reason is counted apart (none should be);
* lost: acknowledged but missing from activity's submissions or evaluation's activities once settled;
* duplicates stored: an event stored under more than one record, or answered "accepted" more than
  once across a client's retries (a retry must come back as a duplicate);
* republished: events that appear more than once on `activity.events.v1` (at-least-once delivery
  after a crash: allowed, as long as each is stored once);
* reminders: branches opened for the trial (never met: lagging) whose secretary got the lagging
  reminder; the scan runs as the kill approaches and the target is killed once the first reminder
  is in the mailbox (scripts/chaos_reminders.py); "in doubt": the reminders whose send the kill
  interrupted (at most the dispatcher's DISPATCH_CONCURRENCY, the sends in flight at once), which
  notification never sends twice and dead-letters as outcome_unknown once their send lease passes;
* sent twice: an email with the same subject to one secretary more than once, or more than one SMS
  of the rule for one branch;
* readiness lies: stretches of READY_STALL_S on end in which a service answered /readyz 200 while
  one of its consumer groups had a backlog and committed nothing (scripts/chaos_watch.py);
* recovery: seconds from the restart until every service answers /readyz and a probe batch is
  accepted."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from alliance_localinfra import ENV_KAFKA, ENV_MONGODB
from alliance_localinfra import ferretdb as local_store
from alliance_localinfra import kafka as local_kafka
from alliance_localinfra._proc import ManagedProcess, free_ports, spawn
from alliance_localinfra.platform import SERVICES, RunningService, development_channels, running_platform, service_env
from alliance_notification.settings import NotificationSettings
from alliance_shared.auth import mint_token, webhook_signature
from alliance_shared.clock import SHANGHAI
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import ACTIVITY_EVENTS, ACTIVITY_INGEST, TOPICS
from alliance_shared.kafka.principal import signed
from alliance_shared.kafka.producer import EventPublisher, Outgoing
from alliance_shared.settings import DEV_JWT_SECRET
from alliance_shared.testing import namespace
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chaos_reminders as reminders
from chaos_watch import ReadinessWatch
from demo_ids import birth_date, make_id_number, make_uscc

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("activity", "evaluation", "kafka", "store", "notification", "registry")
SERVICE_TARGETS = {"activity", "evaluation", "registry", "notification"}
SOURCE = "/chaos/oa-system"
MEMBERS = 24
RETRYABLE = {429, 500, 502, 503, 504}
# ready this long with a backlog and nothing committed: not consuming. The consumers' contract
# (ConsumerPolicy.stall_s, 60 s) plus the watch's sampling: a consumer committing a slow batch a
# minute is consuming; one that stopped is a lie from here on (issue 17: frozen for good)
READY_STALL_S = 75.0
# the campaign's platform: a batch a killed activity left unpublished goes to the relay after 5 s
# (the default 120 s guards batches of live replicas), and the logs keep only what went wrong
# and activity checks each L3 record's signed principal, as in production
PLATFORM_ENV = {"OUTBOX_GRACE_S": "5", "LOG_LEVEL": "WARNING", "RESCORE_INTERVAL_S": "2",
                "L3_PRINCIPAL_CHECK": "true"}


def target_of(trial: int, targets: Sequence[str] = TARGETS) -> str:
    """The target of a trial: the targets in turn, by trial number (1 → the first)."""
    return targets[(trial - 1) % len(targets)]


# a kill mid-send leaves in doubt the sends that were in flight: at most what a pass sends at once
IN_DOUBT_AT_MOST = NotificationSettings.model_fields["dispatch_concurrency"].default


@dataclass
class TrialResult:
    trial: int
    target: str
    sent: int = 0
    rejected: int = 0
    unsent: int = 0  # a chunk no retry got through: the campaign's own failure, not the platform's
    lost: int = 0
    duplicates: int = 0
    republished: int = 0
    recovery_s: float = float("nan")
    lost_ids: list[str] = field(default_factory=list)
    reminders: int = 0  # branches reminded
    reminders_twice: int = 0
    reminders_missing: int = 0
    reminders_in_doubt: int = 0  # interrupted mid-send: dead-lettered as outcome_unknown (at most once)
    ready_lies: list[str] = field(default_factory=list)  # "service: N s ready with a backlog of M, nothing committed"
    notes: list[str] = field(default_factory=list)  # what the reminder burst and the readiness watch saw

    @property
    def ok(self) -> bool:
        return (self.lost == 0 and self.duplicates == 0 and self.rejected == 0 and self.unsent == 0
                and self.reminders_twice == 0 and self.reminders_missing == 0
                and self.reminders_in_doubt <= IN_DOUBT_AT_MOST
                and not self.ready_lies)


@dataclass
class Rig:
    """The campaign's platform and the processes it may kill."""

    urls: dict[str, str]
    services: dict[str, RunningService]
    kafka: Any  # alliance_localinfra.kafka.KafkaBroker, or None when the environment's broker is used
    store: Any  # alliance_localinfra.ferretdb.FerretDB, or None
    bootstrap: str
    mongodb_uri: str
    prefix: str
    databases: dict[str, str]
    service_env: dict[str, dict[str, str]]
    mailbox: Path

    def kill(self, target: str) -> None:
        process = self._process(target)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.popen.wait()
        process.stop()  # nothing is left to stop: this only forgets it

    def restart(self, target: str) -> None:
        old = self._process(target)
        log_path = old.log_path
        assert log_path is not None
        with open(log_path, "ab") as log:
            if target in self.services:
                popen = spawn([sys.executable, "-m", f"alliance_{target}"], env=self.service_env[target],
                              stdout=log, stderr=log)
            else:  # the same command line: the same ports and data directory
                env = {**local_store.GO_RUNTIME, **os.environ} if target == "store" else None
                popen = spawn(list(old.popen.args), stdin=subprocess.DEVNULL, stdout=log,  # type: ignore[arg-type]
                              stderr=subprocess.STDOUT, env=env)
        process = ManagedProcess(old.name, popen, log_path, stop_signal=old.stop_signal)
        if target in self.services:
            self.services[target].process = process
        elif target == "kafka":
            self.kafka.process = process
        else:
            self.store.process = process

    def _process(self, target: str) -> ManagedProcess:
        if target in self.services:
            return self.services[target].process
        server = self.kafka if target == "kafka" else self.store
        if server is None:
            raise RuntimeError(f"{target} is not the campaign's own: it cannot be killed")
        process: ManagedProcess = server.process
        return process


@contextmanager
def chaos_platform(run_dir: Path, *, own_infra: bool, services: Sequence[str] = tuple(SERVICES)) -> Iterator[Rig]:
    """Kafka and the store (its own where it will kill them, else the environment's), the topics
    and the services on free ports, with a fresh namespace; everything stops on exit."""
    saved = {k: os.environ.get(k) for k in (ENV_KAFKA, ENV_MONGODB)}
    with ExitStack() as stack:
        broker = store = None
        if own_infra or not (saved[ENV_KAFKA] and saved[ENV_MONGODB]):
            with ThreadPoolExecutor(2) as pool:
                started_kafka, started_store = pool.submit(local_kafka.start), pool.submit(local_store.start)
                try:
                    broker = started_kafka.result()
                finally:
                    store = started_store.result()
            stack.callback(broker.stop)
            stack.callback(store.stop)
            os.environ[ENV_KAFKA], os.environ[ENV_MONGODB] = broker.bootstrap_servers, store.mongodb_uri

        def restore() -> None:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

        stack.callback(restore)
        ns = namespace("chaos")
        ports = dict(zip(services, free_ports(len(services)), strict=True))
        databases = {name: f"{ns}-{name}" for name in services}
        per_service = {name: {"MONGODB_DATABASE": db} for name, db in databases.items()}
        running = stack.enter_context(running_platform(ports=ports, topic_prefix=f"{ns}.", run_dir=run_dir,
                                                       extra_env=PLATFORM_ENV, per_service_env=per_service))
        infra = running["infra"]
        infra_env = {ENV_KAFKA: infra.kafka_bootstrap_servers, ENV_MONGODB: infra.mongodb_uri,
                     "KAFKA_TOPIC_PREFIX": f"{ns}."}
        base = {**development_channels(os.environ, running["mailbox"].port), **PLATFORM_ENV}
        envs = {name: service_env(infra_env, name, port, {**base, **per_service[name]}) for name, port in ports.items()}
        started: dict[str, RunningService] = running["services"]
        yield Rig({n: s.url for n, s in started.items()}, started, broker, store, infra.kafka_bootstrap_servers,
                  infra.mongodb_uri, f"{ns}.", databases, envs, running["mailbox"].directory)


# -- the institution and its events -----------------------------------------------------------------

@dataclass
class Institution:
    id: str
    api_key: str
    branch: str
    members: list[str]
    committee: str = ""
    key_id: str = ""


def _token(role: str, **claims: Any) -> str:
    return mint_token(DEV_JWT_SECRET, role=role, subject=f"chaos-{role}", **claims)


async def register(rig: Rig) -> Institution:
    """One L3 institution with a committee, a branch of MEMBERS members and an API key, registered
    by the secretariat; returns once activity accepts its events."""
    rng = random.Random()
    async with httpx.AsyncClient(base_url=rig.urls["registry"], timeout=60,
                                 headers={"Authorization": f"Bearer {_token('secretariat')}"}) as registry:
        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = await registry.post(path, json=body)
            if answer.status_code != 201:
                raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text[:300]}")
            created: dict[str, Any] = answer.json()
            return created

        inst = await post("/api/v1/institutions", {
            "uscc": make_uscc(rng), "name": f"鹏城韧性金融服务有限公司{rng.randrange(10**6):06d}",
            "ownership": "private", "sector": "金融科技", "party_org_status": "established_complete",
            "reporting_level": "L3", "effective_from": str(date.today() - timedelta(days=400))})
        secretary = {"name": "书记", "phone": "13900000011", "email": "chaos-zb@alliance.example"}

        async def org(name: str, kind: str, parent: str | None) -> str:
            return str((await post("/api/v1/organizations", {
                "name": name, "kind": kind, "institution_ids": [inst["id"]], "parent_id": parent,
                "established_at": "2019-07-01", "secretary": secretary}))["id"])

        committee = await org("中共鹏城韧性金融委员会", "committee", None)
        branch = await org("第一支部委员会", "branch", committee)
        members = [str((await post("/api/v1/members", {
            "organization_id": branch, "name": f"党员{n}", "status": "full", "joined_at": "2020-07-01",
            "id_number": make_id_number(rng, birth_date(rng), female=n % 2 == 0),
            "phone": f"137{n:08d}"}))["id"]) for n in range(MEMBERS)]
        key = await post(f"/api/v1/institutions/{inst['id']}/api-keys", {"label": "chaos"})
    institution = Institution(inst["id"], key["api_key"], branch, members, committee, key["key_id"])
    probe = [learning(institution, "chaos-probe-known", 0)]
    async with httpx.AsyncClient(base_url=rig.urls["activity"], timeout=30) as activity:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            answer = await activity.post("/api/v1/events:validate", content=json.dumps(probe),
                                         headers=_batch_headers(institution))
            if answer.status_code == 200 and answer.json()["accepted"] == 1:
                return institution
            await asyncio.sleep(0.5)
    raise RuntimeError("activity did not learn the campaign's institution within 90 s")


def learning(inst: Institution, event_id: str, n: int) -> dict[str, Any]:
    """A member's learning on one of the last 60 days; every event of a trial its own id."""
    day = date.today() - timedelta(days=1 + n % 60)
    return {"specversion": "1.0", "id": event_id, "source": SOURCE, "type": "fpba.learning.completed.v1",
            "time": datetime.now(UTC).isoformat(), "datacontenttype": "application/json",
            "data": {"member_id": inst.members[n % len(inst.members)], "date": day.isoformat(),
                     "minutes": 5 + n % 40, "course": f"理论学习第{n}讲"}}


def meeting(inst: Institution, event_id: str, n: int) -> dict[str, Any]:
    held = (datetime.now(UTC) - timedelta(days=1 + n % 60, minutes=n)).astimezone(SHANGHAI).replace(microsecond=0)
    attendees = inst.members[n % 5: n % 5 + 12]
    return {"specversion": "1.0", "id": event_id, "source": SOURCE, "type": "fpba.meeting.held.v1",
            "time": datetime.now(UTC).isoformat(), "datacontenttype": "application/json",
            "data": {"organization_id": inst.branch, "meeting_kind": "theme_party_day",
                     "held_at": held.isoformat(), "attendee_ids": attendees, "expected_count": len(attendees),
                     "topic": "学习贯彻党的二十大精神"}}


def _batch_headers(inst: Institution) -> dict[str, str]:
    return {"X-Api-Key": inst.api_key, "Content-Type": "application/cloudevents-batch+json"}


# -- the channels, each retrying with the same ids ----------------------------------------------------

@dataclass
class Ledger:
    """What the channels were told, per trial."""

    acknowledged: set[str] = field(default_factory=set)
    accepted_answers: int = 0  # the sum of "accepted" over every answer the HTTP channels got
    http_acknowledged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    unsent: int = 0

    def answered(self, ids: list[str], answer: dict[str, Any]) -> None:
        # an upload names a rejected row by its number in the file (the header is row 1)
        rejected = {r["id"] if "id" in r else ids[r["row"] - 2] for r in answer["rejected"]}
        self.rejected += answer["rejected"]
        done = [i for i in ids if i not in rejected]
        self.acknowledged.update(done)
        self.http_acknowledged += len(done)
        self.accepted_answers += answer["accepted"]


class Sender:
    def __init__(self, rig: Rig, inst: Institution, publisher: EventPublisher, progress: Progress, task: Any,
                 *, give_up_s: float) -> None:
        self.rig, self.inst, self.publisher = rig, inst, publisher
        self.progress, self.task = progress, task
        self.give_up_s = give_up_s
        self.client = httpx.AsyncClient(base_url=rig.urls["activity"], timeout=60,
                                        limits=httpx.Limits(keepalive_expiry=2))

    async def close(self) -> None:
        await self.client.aclose()

    async def _post(self, ledger: Ledger, url: str, events: list[dict[str, Any]], *, signed: bool) -> None:
        body = json.dumps(events, ensure_ascii=False).encode()
        ids = [e["id"] for e in events]
        deadline = time.monotonic() + self.give_up_s
        pause = 0.2
        while True:
            if signed:
                stamp = str(int(time.time()))
                headers = {"Content-Type": "application/cloudevents-batch+json", "X-Timestamp": stamp,
                           "X-Signature": webhook_signature(self.inst.api_key, stamp, body)}
            else:
                headers = _batch_headers(self.inst)
            try:
                answer = await self.client.post(url, content=body, headers=headers)
                if answer.status_code == 202:
                    ledger.answered(ids, answer.json())
                    break
                if answer.status_code not in RETRYABLE:
                    raise RuntimeError(f"POST {url}: {answer.status_code} {answer.text[:300]}")
            except (httpx.TransportError, httpx.TimeoutException):
                pass  # the answer may be lost after the events were stored: the retry must say duplicate
            if time.monotonic() > deadline:
                ledger.unsent += len(events)
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)
        self.progress.advance(self.task, len(events))

    async def batch(self, ledger: Ledger, events: list[dict[str, Any]]) -> None:
        await self._post(ledger, "/api/v1/events", events, signed=False)

    async def webhook(self, ledger: Ledger, events: list[dict[str, Any]]) -> None:
        await self._post(ledger, f"/api/v1/webhooks/{self.inst.id}", events, signed=True)

    async def upload(self, ledger: Ledger, events: list[dict[str, Any]]) -> None:
        """L1: the learning events as the alliance's CSV template, uploaded with the API key."""
        out = io.StringIO()
        sheet = csv.writer(out)
        sheet.writerow(["事件编号", "党员编号", "学习日期", "学习时长(分钟)", "课程名称"])
        for e in events:
            data = e["data"]
            sheet.writerow([e["id"], data["member_id"], data["date"], data["minutes"], data["course"]])
        content = out.getvalue().encode("utf-8-sig")
        ids = [e["id"] for e in events]
        deadline = time.monotonic() + self.give_up_s
        pause = 0.2
        while True:
            try:
                answer = await self.client.post("/api/v1/uploads", headers={"X-Api-Key": self.inst.api_key},
                                                data={"kind": "learning"},
                                                files={"file": ("线上学习.csv", content, "text/csv")})
                if answer.status_code == 200:
                    ledger.answered(ids, answer.json())
                    break
                if answer.status_code not in RETRYABLE:
                    raise RuntimeError(f"POST /api/v1/uploads: {answer.status_code} {answer.text[:300]}")
            except (httpx.TransportError, httpx.TimeoutException):
                pass  # as for the batch API: a retry of a stored file answers duplicates
            if time.monotonic() > deadline:
                ledger.unsent += len(events)
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)
        self.progress.advance(self.task, len(events))

    async def stream(self, ledger: Ledger, events: list[dict[str, Any]]) -> None:
        """L3: binary-mode records, each signed with the institution's API key (its principal)."""
        outgoing = [signed(Outgoing(ACTIVITY_INGEST,
                                    CloudEvent.from_structured(e).with_extensions(institutionid=self.inst.id),
                                    self.inst.branch), self.inst.key_id, self.inst.api_key) for e in events]
        deadline = time.monotonic() + self.give_up_s
        while True:
            try:
                await asyncio.wait_for(self.publisher.publish_many(outgoing), timeout=45)
                ledger.acknowledged.update(e["id"] for e in events)
                break
            except Exception:  # not known to be written: the same events again (activity dedupes by id)
                if time.monotonic() > deadline:
                    ledger.unsent += len(events)
                    break
                await asyncio.sleep(1.0)
        self.progress.advance(self.task, len(events))


async def _not_ready(rig: Rig, client: httpx.AsyncClient) -> str | None:
    """The first service not answering ready, with the checks it fails; None when all are ready."""
    for name, url in rig.urls.items():
        try:
            answer = await client.get(f"{url}/readyz", timeout=3)
        except httpx.HTTPError as exc:
            return f"{name} ({type(exc).__name__})"
        if answer.status_code != 200:
            try:
                failing = [k for k, ok in answer.json().get("checks", {}).items() if not ok]
            except ValueError:
                failing = []
            return f"{name} ({', '.join(failing) or answer.status_code})"
    return None


async def recover(rig: Rig, inst: Institution, trial: int, notes: list[str],
                  timeout_s: float = 600.0) -> float:
    """Seconds until every service is ready and a probe batch is accepted (or `timeout_s`); what
    it waited on last goes to `notes` (a Kafka restart alone took 86 s at load 14)."""
    started = time.monotonic()
    probe = json.dumps([learning(inst, f"chaos-probe-{trial}-{time.time_ns()}", trial)]).encode()
    waiting: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(keepalive_expiry=1)) as client:
        while time.monotonic() - started < timeout_s:
            blocker = await _not_ready(rig, client)
            if blocker is None:
                try:
                    answer = await client.post(f"{rig.urls['activity']}/api/v1/events", content=probe,
                                               headers=_batch_headers(inst))
                    if answer.status_code == 202:
                        break
                    blocker = f"probe batch {answer.status_code}"
                except httpx.HTTPError as exc:
                    blocker = f"probe batch {type(exc).__name__}"
            waiting[blocker] += 1
            await asyncio.sleep(0.1)
        else:
            notes.append("recovery: never, waiting on " + ", ".join(f"{b} ×{n}" for b, n in waiting.most_common(3)))
            return float("inf")
    if waiting:
        notes.append("recovery: waited on " + ", ".join(f"{b} ×{n}" for b, n in waiting.most_common(3)))
    return time.monotonic() - started


def stored(rig: Rig, ids: set[str]) -> tuple[set[str], set[str], int]:
    """The ids activity stored as accepted, those evaluation stored, and records beyond one per id."""
    wanted = sorted(ids)
    with MongoClient(rig.mongodb_uri, serverSelectionTimeoutMS=20_000, socketTimeoutMS=60_000) as mongo:
        in_activity: Counter[str] = Counter()
        in_evaluation: Counter[str] = Counter()
        for i in range(0, len(wanted), 1000):
            part = wanted[i: i + 1000]
            for d in mongo[rig.databases["activity"]]["submissions"].find(
                    {"_id": {"$in": part}, "status": "accepted"}, {"_id": 1}):
                in_activity[d["_id"]] += 1
            for d in mongo[rig.databases["evaluation"]]["activities"].find({"_id": {"$in": part}}, {"_id": 1}):
                in_evaluation[d["_id"]] += 1
    extra = sum(n - 1 for n in in_activity.values()) + sum(n - 1 for n in in_evaluation.values())
    return set(in_activity), set(in_evaluation), extra


async def settle(rig: Rig, ids: set[str], timeout_s: float) -> tuple[set[str], int]:
    """Waits until both services stored every id (or `timeout_s`); returns the missing and the extra."""
    deadline = time.monotonic() + timeout_s
    missing, extra = set(ids), 0
    while True:
        try:
            in_activity, in_evaluation, extra = await asyncio.to_thread(stored, rig, ids)
            missing = (ids - in_activity) | (ids - in_evaluation)
        except PyMongoError:  # a store that answers too slowly to count: counted again, until the deadline
            pass
        if not missing or time.monotonic() > deadline:
            return missing, extra
        await asyncio.sleep(1.0)


async def published_counts(rig: Rig) -> Counter[str]:
    """How often each event id is on activity.events.v1, read from the beginning to the end."""
    topic = rig.prefix + ACTIVITY_EVENTS
    consumer = AIOKafkaConsumer(bootstrap_servers=rig.bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    counts: Counter[str] = Counter()
    try:
        partitions = [TopicPartition(topic, p) for p in range(TOPICS[ACTIVITY_EVENTS])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for record in records:
                    ce_id = dict(record.headers).get("ce_id")
                    if ce_id is not None:
                        counts[ce_id.decode()] += 1
    finally:
        await consumer.stop()
    return counts


# -- the campaign ---------------------------------------------------------------------------------

@dataclass
class Staff:
    """The people's clients the campaign acts through (the secretariat's token)."""

    registry: httpx.AsyncClient
    evaluation: httpx.AsyncClient
    notification: httpx.AsyncClient | None

    @classmethod
    def of(cls, rig: Rig) -> Staff:
        headers = {"Authorization": f"Bearer {_token('secretariat')}"}

        def client(name: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=rig.urls[name], timeout=30, headers=headers)

        notification = client("notification") if "notification" in rig.urls else None
        return cls(client("registry"), client("evaluation"), notification)

    async def close(self) -> None:
        for client in (self.registry, self.evaluation, self.notification):
            if client is not None:
                await client.aclose()


def trial_events(inst: Institution, stamp: str, events: int, chunk: int) -> list[list[list[dict[str, Any]]]]:
    """The trial's events in chunks, per channel (batch, webhook, stream, upload) in turn; the
    upload's are learning (one CSV template per kind), a fifth of the others meetings."""
    queues: list[list[list[dict[str, Any]]]] = [[], [], [], []]
    for number, start in enumerate(range(0, events, chunk)):
        channel = number % 4
        queues[channel].append([(learning if channel == 3 or n % 5 else meeting)(inst, f"{stamp}-{n}", n)
                                for n in range(start, min(events, start + chunk))])
    return queues


async def run_trial(rig: Rig, sender: Sender, inst: Institution, result: TrialResult, events: int,
                    *, settle_s: float, chunk: int, staff: Staff, branches: int) -> Ledger:
    ledger = Ledger()
    stamp = f"chaos-t{result.trial}-{time.time_ns() % 10**8}"
    burst = None
    if staff.notification is not None and branches:
        burst = await reminders.open_lagging_branches(staff.registry, inst.id, inst.committee, result.trial, branches)
    watch = ReadinessWatch(rig.urls, rig.bootstrap, rig.prefix)
    watching = asyncio.create_task(watch.run())
    channels = [sender.batch, sender.webhook, sender.stream, sender.upload]
    queues = trial_events(inst, stamp, events, chunk)
    kill_at = max(1, events // 3)
    kill_now = asyncio.Event()

    async def feed(send: Any, chunks: list[list[dict[str, Any]]]) -> None:
        for part in chunks:
            await send(ledger, part)
            if len(ledger.acknowledged) >= kill_at:
                kill_now.set()
            await asyncio.sleep(0.02)  # a stream, not a burst: the kill lands among in-flight requests

    async def fault() -> None:
        await kill_now.wait()
        if burst is not None:  # reminders being sent when the kill lands
            await reminders.scan(staff.evaluation)
            await reminders.first_reminder(burst, rig.mailbox, timeout_s=30)
        await asyncio.to_thread(rig.kill, result.target)
        await asyncio.sleep(1.0)  # down a moment: clients meet refused connections and timeouts
        await asyncio.to_thread(rig.restart, result.target)
        result.recovery_s = await recover(rig, inst, result.trial, result.notes)

    try:
        feeders = [asyncio.create_task(feed(send, q)) for send, q in zip(channels, queues, strict=True)]
        chaos = asyncio.create_task(fault())
        await asyncio.gather(*feeders)
        kill_now.set()  # a trial too short to reach the mark still has its fault
        await chaos
        missing, extra = await settle(rig, ledger.acknowledged, settle_s)
        if burst is not None and staff.notification is not None:
            await reminders.settle(burst, rig.mailbox, staff.evaluation, staff.notification, timeout_s=settle_s)
    finally:
        watch.stop()
        await watching
    result.sent = len(ledger.acknowledged)
    result.rejected = len(ledger.rejected)
    result.unsent = ledger.unsent
    result.lost = len(missing)
    result.lost_ids = sorted(missing)[:10]
    result.duplicates = extra + max(0, ledger.accepted_answers - ledger.http_acknowledged)
    if burst is not None:
        result.reminders, result.reminders_twice = burst.reminded, burst.duplicates
        result.reminders_missing, result.reminders_in_doubt = burst.missing, burst.in_doubt
        result.notes.append(f"reminders: {burst.at_kill} of {len(burst.branches)} emailed when killed, "
                            f"{burst.reminded} emails and {burst.sms} SMS once settled, "
                            f"{burst.in_doubt} interrupted mid-send (outcome unknown)")
    result.notes.append(f"readiness: {watch.summary()}")
    result.ready_lies = [f"{lie.service}: {lie.seconds:.0f} s ready with a backlog of {lie.backlog}, nothing committed"
                         for lie in watch.lies(READY_STALL_S)]
    return ledger


def table(results: Sequence[TrialResult]) -> Table:
    out = Table(title="故障演练 / fault campaign")
    for name in ("trial", "target", "events sent", "lost", "duplicates stored", "republished", "reminders",
                 "reminded twice", "readiness lies", "recovery s"):
        out.add_column(name, justify="left" if name == "target" else "right")
    for r in results:
        reminded = f"{r.reminders}" + (f" ({r.reminders_missing} missing)" if r.reminders_missing else "") + (
            f" ({r.reminders_in_doubt} in doubt)" if r.reminders_in_doubt else "")
        out.add_row(str(r.trial), r.target, f"{r.sent:,}", str(r.lost), str(r.duplicates), str(r.republished),
                    reminded, str(r.reminders_twice), str(len(r.ready_lies)), f"{r.recovery_s:.1f}",
                    style=None if r.ok else "bold red")
    total = Counter[str]()
    for r in results:
        total.update(sent=r.sent, lost=r.lost, dup=r.duplicates, rep=r.republished, rem=r.reminders,
                     twice=r.reminders_twice, lies=len(r.ready_lies))
    out.add_row("Σ", "", f"{total['sent']:,}", str(total["lost"]), str(total["dup"]), str(total["rep"]),
                str(total["rem"]), str(total["twice"]), str(total["lies"]), "", style="bold")
    return out


async def campaign(rig: Rig, trials: Sequence[int], targets: Sequence[str], events: int, *, settle_s: float,
                   chunk: int, console: Console, branches: int) -> list[TrialResult]:
    started = time.monotonic()
    inst = await register(rig)
    console.print(f"institution registered and known to activity in {time.monotonic() - started:.1f} s")
    staff = Staff.of(rig)
    if staff.notification is not None:
        await reminders.lift_quiet_hours(staff.notification)
    publisher = EventPublisher(rig.bootstrap, client_id="chaos-l3-system", topic_prefix=rig.prefix)
    await publisher.start()
    results: list[TrialResult] = []
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("events", total=events * len(trials), note="")
            sender = Sender(rig, inst, publisher, progress, task, give_up_s=240)
            try:
                for trial in trials:
                    result = TrialResult(trial, target_of(trial, targets))
                    progress.update(task, note=f"trial {trial}: kill -9 {result.target}")
                    await run_trial(rig, sender, inst, result, events, settle_s=settle_s, chunk=chunk, staff=staff,
                                    branches=branches)
                    results.append(result)
                    progress.console.print(
                        f"trial {trial} ({result.target}): {result.sent} sent, {result.lost} lost, "
                        f"{result.duplicates} counted twice, {result.reminders} reminded "
                        f"({result.reminders_twice} twice, {result.reminders_missing} missing, "
                        f"{result.reminders_in_doubt} in doubt), "
                        f"{len(result.ready_lies)} readiness lies, recovered in {result.recovery_s:.1f} s; "
                        + "; ".join(result.notes))
            finally:
                await sender.close()
    finally:
        await publisher.stop()
        await staff.close()
    started = time.monotonic()
    counts = await published_counts(rig)
    console.print(f"{sum(counts.values()):,} messages on {ACTIVITY_EVENTS} read in {time.monotonic() - started:.1f} s")
    for result in results:
        mark = f"chaos-t{result.trial}-"
        result.republished = sum(n - 1 for event_id, n in counts.items() if event_id.startswith(mark) and n > 1)
    return results


def run(trials: Sequence[int], *, targets: Sequence[str] = TARGETS, events: int = 4000, settle_s: float = 240.0,
        chunk: int = 50, run_dir: Path | None = None, console: Console | None = None,
        services: Sequence[str] = tuple(SERVICES), branches: int = 20) -> list[TrialResult]:
    """Runs the trials on a platform of the campaign's own (`services`: those to start; registry,
    activity and evaluation at least; with notification, `branches` lagging branches a trial are
    reminded); returns their results."""
    console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # a killed broker is the point, not news
    chosen = {target_of(t, targets) for t in trials}
    run_dir = run_dir or ROOT / "test-artifacts" / "chaos"
    started = time.monotonic()
    with chaos_platform(run_dir, own_infra=bool(chosen - SERVICE_TARGETS), services=services) as rig:
        console.print(f"platform up in {time.monotonic() - started:.1f} s; logs in {run_dir / 'logs'}")
        return asyncio.run(campaign(rig, trials, targets, events, settle_s=settle_s, chunk=chunk, console=console,
                                    branches=branches))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/chaos.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=int(os.environ.get("TRIALS") or 3 * len(TARGETS)))
    parser.add_argument("--first-trial", type=int, default=1, help="number of the first trial (picks its target)")
    parser.add_argument("--events", type=int, default=4000, help="events per trial")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated, in turn by trial number")
    parser.add_argument("--chunk", type=int, default=50, help="events per batch, webhook call and Kafka write")
    parser.add_argument("--settle", type=float, default=240.0, help="seconds to wait for the events to be stored")
    parser.add_argument("--branches", type=int, default=20, help="lagging branches reminded per trial (0: none)")
    args = parser.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))} (known: {', '.join(TARGETS)})")
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    results = run(range(args.first_trial, args.first_trial + args.trials), targets=targets, events=args.events,
                  settle_s=args.settle, chunk=args.chunk, console=console, branches=args.branches)
    console.print(table(results))
    bad = [r for r in results if not r.ok]
    for r in bad:
        console.print(f"trial {r.trial} ({r.target}): {r.lost} lost (e.g. {', '.join(r.lost_ids)}), "
                      f"{r.duplicates} counted twice, {r.rejected} rejected, {r.unsent} never got through, "
                      f"{r.reminders_twice} reminders sent twice, {r.reminders_missing} never sent, "
                      f"{r.reminders_in_doubt} interrupted mid-send; "
                      f"readiness: {'; '.join(r.ready_lies) or 'truthful'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
