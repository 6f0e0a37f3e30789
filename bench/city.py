"""The city end to end: ``python bench/city.py [--size city|default] [--namespace NS]`` (`make bench-city`).

Starts the platform (Kafka, the store, the four services on free ports) unless `--namespace` names a
running one (`make run --namespace NS`; then give `--mongodb-uri` for the store baseline), loads the
alliance through the demo's own code (`scripts/demo.py`, public APIs only) and prints:

* each phase's wall time (the demo's table);
* accepted → visible in the score, p50 / p95: 1,000 events/s offered for 60 s through the L2 batch API
  (`--rates 250,500,1000` for several windows), one meeting a second among them whose event id is then
  looked for in its branch's score; the rate accepted, and the CPU each process spent per event (the
  budget that says where the time goes);
* the rescore of the quarter (POST /periods/{period}/rescore);
* peak RSS of each service, of FerretDB and of the PostgreSQL processes (summed PSS, so the shared
  buffers count once) — only when this script started them;
* same-run baselines: `insert_many` of the demo's member and event documents into the same store, a
  raw aiokafka producer of the quarter's CloudEvents to the same broker, and Kafka's own
  ProducerPerformance (the broker's ceiling), with the platform's rates as ratios of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import demo  # noqa: E402
import httpx  # noqa: E402
from alliance_shared.auth import mint_token  # noqa: E402
from alliance_shared.clock import SHANGHAI  # noqa: E402
from alliance_shared.kafka.producer import BATCH_BYTES  # noqa: E402
from alliance_shared.settings import ServiceSettings  # noqa: E402
from demo_progress import Phases  # noqa: E402
from rich.table import Table  # noqa: E402

# batches unanswered at once in the latency windows, and how long a probe is looked for
IN_FLIGHT = 16
PROBE_S = 120.0
# a probe's branch score is read this often in its first 5 s (the latency's resolution), then every
# second: every 0.1 s, the reads of a slow window's pending probes took a core of evaluation's own
PROBE_POLL_S = 0.25

# -- peak memory ----------------------------------------------------------------------------------


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            out.append(child)
            todo.append(child)
    return out


def _kind(pid: int) -> str | None:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    text = b" ".join(cmd).decode(errors="replace")
    for name in ("registry", "activity", "evaluation", "notification"):
        if f"-m alliance_{name}" in text:
            return name
    if "ferretdb" in text.split(" ", 1)[0]:
        return "FerretDB"
    if "postgres" in text.split(" ", 1)[0] or text.startswith("postgres:"):
        return "PostgreSQL (all processes)"
    if "kafka.Kafka" in text:
        return "Kafka"
    return None


def _kib(pid: int, field: str, path: str = "status") -> int:
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler:
    """Every second: each service's RSS, FerretDB's RSS, the PostgreSQL processes' summed PSS; keeps the peaks."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            now: dict[str, int] = {}
            for pid in _descendants(self.root):
                kind = _kind(pid)
                if kind is None:
                    continue
                kib = _kib(pid, "Pss", "smaps_rollup") if kind.startswith("PostgreSQL") else _kib(pid, "VmRSS")
                now[kind] = now.get(kind, 0) + kib
            for kind, kib in now.items():
                self.peak[kind] = max(self.peak.get(kind, 0), kib)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)


# -- the platform ---------------------------------------------------------------------------------


@contextlib.contextmanager
def platform(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """urls, kafka, mongodb_uri, topic_prefix: of the running platform named, or of one started here."""
    if args.namespace is not None:
        urls, kafka, prefix = demo.resolve(args)
        yield {"urls": urls, "kafka": kafka, "prefix": prefix, "mongodb_uri": args.mongodb_uri, "started": False}
        return
    from alliance_localinfra._proc import free_ports
    from alliance_localinfra.platform import running_platform

    ports = dict(zip(("registry", "activity", "evaluation", "notification"), free_ports(4), strict=True))
    os.environ.setdefault("ALLIANCE_STORE_STATS", "1")  # the store's busiest statements, at the end
    started = time.monotonic()
    with running_platform(ports=ports, run_dir=Path(f"/tmp/alliance-bench-city-{os.getpid()}")) as p:
        print(f"platform up in {time.monotonic() - started:.1f}s", flush=True)
        infra = p["infra"]
        yield {
            "urls": {n: s.url for n, s in p["services"].items()},
            "kafka": infra.kafka_bootstrap_servers,
            "prefix": p["topic_prefix"],
            "mongodb_uri": infra.mongodb_uri,
            "started": True,
            "postgres": infra.store.postgres if infra.store is not None else None,
        }


# -- accepted → visible in the score --------------------------------------------------------------


@dataclass
class Window:
    """One latency window: what was offered and accepted, what the probes saw, and the CPU each
    process spent per accepted event (when this script started the platform)."""

    offered: int
    accepted_rate: float = 0.0
    found: list[float] = field(default_factory=list)
    lost: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    cpu_per_event: dict[str, float] = field(default_factory=dict)


def _cpu_seconds(root: int) -> Counter[str]:
    """CPU seconds (user + system) so far of each kind of process under `root` (see `_kind`)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: Counter[str] = Counter()
    for pid in _descendants(root):
        kind = _kind(pid)
        if kind is None:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[kind.split(" (")[0]] += (int(fields[11]) + int(fields[12])) / tick
    return out


async def latency(run: demo.DemoRun, rate: int, seconds: int, *, started_here: bool) -> Window:
    """Offers `rate` events/s for `seconds` through POST /events (batches of rate/10 every 0.1 s, each
    from an L2 institution's system, at most IN_FLIGHT batches unanswered: a platform that cannot keep
    up is sent less, and the accepted rate, over the window and the answers still due, says so). One
    meeting a second is a probe: the time from its batch's 202 to its event id showing in its branch's
    score (lost if not within PROBE_S)."""
    alliance, ids = run.alliance, run.member_ids
    owners = [
        (i, [o for o in i.organizations if o.holds_meetings and ids.get(o.id or "")])
        for i in alliance.institutions
        if i.reporting_level == "L2" and i.api_key
    ]
    owners = [(i, branches) for i, branches in owners if branches]
    today = datetime.now(SHANGHAI)
    secret = ServiceSettings().auth_jwt_secret
    token = mint_token(secret, role="secretariat", subject="bench-city")
    window = Window(offered=rate)
    accepted = [0]
    per_tick = max(1, rate // 10)
    gate = asyncio.Semaphore(IN_FLIGHT)

    def learning(inst: Any, member: str, n: int) -> dict[str, Any]:
        day = (today - timedelta(days=n % max(1, today.day - 1) + 1)).date()
        return {
            "specversion": "1.0",
            "id": f"bench-{uuid.uuid4().hex}",
            "source": f"/institutions/{inst.id}/party-system",
            "type": "fpba.learning.completed.v1",
            "data": {"member_id": member, "date": day.isoformat(), "minutes": 30 + n % 60},
        }

    limits = httpx.Limits(max_connections=IN_FLIGHT + 8)
    async with (
        httpx.AsyncClient(base_url=run.urls["activity"], timeout=120, limits=limits) as activity,
        httpx.AsyncClient(
            base_url=run.urls["evaluation"], timeout=60, headers={"Authorization": f"Bearer {token}"}, limits=limits
        ) as evaluation,
    ):

        async def watch(branch: str, event_id: str, accepted_at: float) -> None:
            deadline = accepted_at + PROBE_S
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    answer = await evaluation.get(f"/api/v1/periods/{run.period}/organizations/{branch}")
                    if answer.status_code == 200 and event_id in answer.text:
                        window.found.append(time.monotonic() - accepted_at)
                        return
                await asyncio.sleep(PROBE_POLL_S if time.monotonic() - accepted_at < 5 else 1.0)
            window.lost += 1

        async def post(inst: Any, events: list[dict[str, Any]], probe: tuple[str, str] | None) -> None:
            try:
                answer = await activity.post(
                    "/api/v1/events",
                    content=json.dumps(events, ensure_ascii=False),
                    headers={"X-Api-Key": inst.api_key, "Content-Type": "application/cloudevents-batch+json"},
                )
            except httpx.HTTPError:
                window.refused[0] += 1
                return
            finally:
                gate.release()
            if answer.status_code != 202:
                window.refused[answer.status_code] += 1
                return
            accepted[0] += int(answer.json().get("accepted", 0))
            if probe is not None:
                watchers.append(asyncio.create_task(watch(*probe, time.monotonic())))

        watchers: list[asyncio.Task[None]] = []
        posts: list[asyncio.Task[None]] = []
        cpu_before = _cpu_seconds(os.getpid()) if started_here else None
        started = time.monotonic()
        tick = 0
        while time.monotonic() < started + seconds:
            try:  # a platform behind is offered less: the accepted rate shows it
                await asyncio.wait_for(gate.acquire(), timeout=max(0.0, started + seconds - time.monotonic()))
            except TimeoutError:
                break
            inst, branches = owners[tick % len(owners)]
            members = [m for b in branches for m in ids[b.id or ""]]
            events = [learning(inst, members[(tick * per_tick + k) % len(members)], tick + k) for k in range(per_tick)]
            probe = None
            if tick % 10 == 0:
                branch = branches[(tick // 10) % len(branches)]
                held = today - timedelta(minutes=tick)
                meeting = {
                    "specversion": "1.0",
                    "id": f"bench-probe-{uuid.uuid4().hex}",
                    "source": f"/institutions/{inst.id}/party-system",
                    "type": "fpba.meeting.held.v1",
                    "data": {
                        "organization_id": branch.id,
                        "meeting_kind": "theme_party_day",
                        "held_at": held.isoformat(),
                        "attendee_ids": ids[branch.id or ""],
                        "expected_count": len(ids[branch.id or ""]),
                        "topic": "bench",
                    },
                }
                events[-1] = meeting
                probe = (branch.id or "", meeting["id"])
            posts.append(asyncio.create_task(post(inst, events, probe)))
            tick += 1
            await asyncio.sleep(max(0.0, started + tick / 10 - time.monotonic()))
        await asyncio.gather(*posts)
        elapsed = time.monotonic() - started
        await asyncio.gather(*watchers)
        if cpu_before is not None:
            spent = _cpu_seconds(os.getpid()) - cpu_before
            window.cpu_per_event = {kind: used / max(1, accepted[0]) for kind, used in spent.items()}
    window.accepted_rate = accepted[0] / elapsed
    return window


# -- baselines ------------------------------------------------------------------------------------


def member_documents(run: demo.DemoRun) -> list[dict[str, Any]]:
    return [
        {
            "name": m.name,
            "id_number": m.id_number,
            "phone": m.phone,
            "organization": m.organization,
            "institution": m.institution_uscc,
            "status": m.status,
            "joined_at": m.joined_at.isoformat(),
            "pocket": m.pocket,
        }
        for m in run.alliance.members()
    ]


def event_documents(run: demo.DemoRun) -> list[dict[str, Any]]:
    return [dict(e) for events in run.plan.events.values() for e in events]


async def raw_store(uri: str, docs: list[dict[str, Any]], batch: int = 1000) -> float:
    """docs/s of insert_many into a scratch database of the same store, dropped after."""
    from pymongo import AsyncMongoClient

    client: Any = AsyncMongoClient(uri)
    name = f"bench-raw-{os.getpid()}"
    try:
        coll = client[name]["docs"]
        started = time.monotonic()
        for i in range(0, len(docs), batch):
            await coll.insert_many([dict(d) for d in docs[i : i + batch]], ordered=False)
        return len(docs) / (time.monotonic() - started)
    finally:
        await client.drop_database(name)
        await client.close()


async def raw_producer(kafka: str, payloads: list[bytes], topic: str) -> float:
    """messages/s of a plain aiokafka producer (acks=all, idempotent), same payloads, same broker."""
    from aiokafka import AIOKafkaProducer
    from alliance_localinfra import create_topics

    create_topics(kafka, [topic], partitions=6)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=BATCH_BYTES
    )
    await producer.start()
    try:
        started = time.monotonic()
        for i in range(0, len(payloads), 500):
            futures = [await producer.send(topic, p) for p in payloads[i : i + 500]]
            await asyncio.gather(*futures)
        return len(payloads) / (time.monotonic() - started)
    finally:
        await producer.stop()


def producer_performance(kafka: str, records: int, size: int, topic: str) -> float:
    """records/s of Kafka's own ProducerPerformance (acks=all): the broker's ceiling here."""
    from alliance_localinfra import create_topics
    from alliance_localinfra.kafka import PRODUCER_PERFORMANCE, tool_command

    create_topics(kafka, [topic], partitions=6)
    records = max(records, 500_000)  # fewer is the JVM warming up (10,927 records: 1,085/s)
    command = tool_command(
        PRODUCER_PERFORMANCE,
        *("--topic", topic, "--num-records", str(records), "--record-size", str(size), "--throughput", "-1"),
        *("--producer-props", f"bootstrap.servers={kafka}", "acks=all"),
    )
    out = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True).stdout
    last = [line for line in out.splitlines() if "records/sec" in line][-1]
    return float(last.split(" records sent, ")[1].split(" records/sec")[0])


# -- the run --------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, where: dict[str, Any]) -> dict[str, Any]:
    phases = Phases()
    demo_args = demo.parse_args(
        [
            "--size",
            args.size,
            *(["--institutions", str(args.institutions)] if args.institutions else []),
            *(["--members", str(args.members)] if args.members else []),
            *(a for n, u in where["urls"].items() for a in (f"--{n}", u)),
            *(["--kafka", where["kafka"]] if where["kafka"] else []),
            "--topic-prefix",
            where["prefix"],
        ]
    )
    run = await demo.load(demo_args, phases)
    if run is None:
        raise SystemExit("the platform is not up")
    out: dict[str, Any] = {"phases": phases, "run": run}

    out["latency"] = []
    for rate in args.rates:
        window = await latency(run, rate, args.seconds, started_here=where["started"])
        out["latency"].append(window)
        phases.say(
            f"  {rate:,} events/s offered: {window.accepted_rate:,.0f}/s accepted, "
            f"{len(window.found)} probes seen, {window.lost} lost"
        )

    secretariat = mint_token(ServiceSettings().auth_jwt_secret, role="secretariat", subject="bench-city")
    async with httpx.AsyncClient(
        base_url=run.urls["evaluation"], timeout=1800, headers={"Authorization": f"Bearer {secretariat}"}
    ) as evaluation:
        started = time.monotonic()
        answer = await evaluation.post(f"/api/v1/periods/{run.period}/rescore", params={"wait": "true"})
        out["rescore"] = (time.monotonic() - started, answer.status_code, answer.text[:200])

    members, events = member_documents(run), event_documents(run)
    if where["mongodb_uri"]:
        out["store_members"] = await raw_store(where["mongodb_uri"], members)
        out["store_events"] = await raw_store(where["mongodb_uri"], events)
    if where["kafka"]:
        payloads = [json.dumps(e, ensure_ascii=False).encode() for e in events]
        topic = f"bench-raw-{os.getpid()}"
        out["kafka_raw"] = await raw_producer(where["kafka"], payloads, topic)
        size = round(statistics.mean(len(p) for p in payloads))
        out["kafka_ceiling"] = await asyncio.to_thread(
            producer_performance, where["kafka"], len(payloads), size, topic + "-perf"
        )
        out["payload_bytes"] = size
    if where.get("postgres") is not None:
        out["statements"] = await asyncio.to_thread(where["postgres"].statements, 15)
    return out


def report(out: dict[str, Any], memory: dict[str, int] | None) -> None:
    phases: Phases = out["phases"]
    say = phases.say
    table = Table(title="城市规模基准 / the city bench", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("same-run baseline", justify="right")
    table.add_column("ratio", justify="right")
    rates = {t.name: t.rate for t in phases.timings}
    member_rate = next((r for n, r in rates.items() if n.startswith("members")), None)
    send_rate = next((r for n, r in rates.items() if n.startswith("a quarter sent")), None)
    for w in out["latency"]:
        label = f"accepted → score, {w.offered:,}/s offered, {w.accepted_rate:,.0f}/s accepted"
        refused = f", refused {dict(w.refused)}" if w.refused else ""
        if w.found:
            q = statistics.quantiles(w.found, n=20) if len(w.found) > 1 else [w.found[0]] * 19
            table.add_row(
                label,
                f"p50 {statistics.median(w.found):.2f}s · p95 {q[18]:.2f}s",
                f"{len(w.found)} probes, {w.lost} not seen in {PROBE_S:.0f} s{refused}",
                f"{w.accepted_rate / w.offered:.2f}",
            )
        else:
            table.add_row(label, f"no probe seen ({w.lost} lost{refused})", "", "")
        if w.cpu_per_event:
            busy = ", ".join(f"{k} {v * 1e6:,.0f}" for k, v in sorted(w.cpu_per_event.items(), key=lambda kv: -kv[1]))
            total = sum(w.cpu_per_event.values())
            table.add_row(
                f"  CPU µs per accepted event ({w.offered:,}/s)",
                f"{total * 1e6:,.0f} µs",
                busy,
                f"≤ {(os.cpu_count() or 1) / total:,.0f}/s on {os.cpu_count()} cores" if total else "",
            )
    seconds, status, _ = out["rescore"]
    table.add_row("rescore the quarter", f"{seconds:.1f}s", f"HTTP {status}", "")
    if "store_members" in out and member_rate:
        table.add_row(
            "members registered (import + POST)",
            f"{member_rate:,.0f}/s",
            f"insert_many {out['store_members']:,.0f}/s",
            f"{member_rate / out['store_members']:.3f}",
        )
    if "store_events" in out and send_rate:
        table.add_row(
            "events sent through L1, L2, L3 (answered)",
            f"{send_rate:,.0f}/s",
            f"insert_many {out['store_events']:,.0f}/s",
            f"{send_rate / out['store_events']:.3f}",
        )
    if "kafka_raw" in out and send_rate:
        table.add_row(
            "events sent vs raw aiokafka producer",
            f"{send_rate:,.0f}/s",
            f"aiokafka {out['kafka_raw']:,.0f}/s",
            f"{send_rate / out['kafka_raw']:.3f}",
        )
        table.add_row(
            f"raw aiokafka vs ProducerPerformance ({out['payload_bytes']} B)",
            f"{out['kafka_raw']:,.0f}/s",
            f"ceiling {out['kafka_ceiling']:,.0f}/s",
            f"{out['kafka_raw'] / out['kafka_ceiling']:.3f}",
        )
    for kind, kib in sorted((memory or {}).items()):
        table.add_row(f"peak memory: {kind}", f"{kib / 1024:,.0f} MiB", "", "")
    if memory is None:
        table.add_row("peak memory", "not measured (a running platform's processes are not this script's)", "", "")
    phases.console.print(table)
    if out.get("statements"):
        busiest = Table(
            title="the store's busiest statements (pg_stat_statements, the whole run)", title_justify="left"
        )
        for column in ("calls", "total s", "mean ms", "rows", "statement"):
            busiest.add_column(column, justify="left" if column == "statement" else "right")
        for st in out["statements"]:
            busiest.add_row(
                f"{st['calls']:,}",
                f"{st['total_ms'] / 1000:,.1f}",
                f"{st['mean_ms']:,.2f}",
                f"{st['rows']:,}",
                st["query"][:160],
            )
        phases.console.print(busiest)
    say(f"  total {phases.total_s:.0f}s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(demo.SIZES), default="city")
    p.add_argument("--institutions", type=int, help="instead of the size's")
    p.add_argument("--members", type=int, help="instead of the size's")
    p.add_argument("--namespace", help="use the platform `make run` started with this namespace ('' for none)")
    p.add_argument("--mongodb-uri", default=os.environ.get("MONGODB_URI"), help="the running platform's store")
    p.add_argument(
        "--rates",
        type=lambda v: [int(r) for r in v.split(",")],
        default=[1000],
        help="events/s offered in each latency window, comma-separated (e.g. 250,500,1000)",
    )
    p.add_argument("--seconds", type=int, default=60, help="length of the latency run")
    args = p.parse_args(argv)
    for name in demo.DEFAULT_URLS:
        setattr(args, name, None)
    args.kafka = None
    args.topic_prefix = None
    with platform(args) as where:
        if where["started"]:
            with MemorySampler(os.getpid()) as sampler:
                out = asyncio.run(bench(args, where))
            memory: dict[str, int] | None = sampler.peak
        else:
            out = asyncio.run(bench(args, where))
            memory = None
        report(out, memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
