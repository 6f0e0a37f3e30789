"""How long rescoring one quarter takes, against baselines measured in the same run.

    .venv/bin/python bench/evaluation_rescore.py                       # pure scoring (10,000 vs 1,000 branches)
    .venv/bin/python -m alliance_localinfra exec -- .venv/bin/python bench/evaluation_rescore.py --store --size city
    ... --store --institutions 300 --branches 3000 --members 10000 --events 20000   # explicit counts
    ... --store --size city --profile                                  # + a pyinstrument profile of the rescore
    ... --store --branches 30000 --parts scan,consume,latency --stream 40000 --rate 1000 --seconds 30

Pure mode times `score_period` over a year of synthetic facts (indexing the quarter out of the year
included), against a tenth of the branches.

Store mode loads a synthetic alliance into a fresh database of the store at MONGODB_URI (`--size
city`: 3,000 institutions, 30,000 branches, 100,000 members, 200,000 activity events in the
quarter) and times the service's own rescore path (load the facts chunk by chunk, score, write
cards, computations and rank rows, refresh the overview) for the whole quarter, then again with
nothing changed, against a raw `insert_many` of the same score documents into the same store.
Then (`--parts`) the lagging scan of every branch, against a raw `find` of the organisations and
meetings it reads and a raw `insert_many` of as many lagging documents as it writes; the workbooks
an export job makes (the scores workbook, the branch ranking, the heat map) against a raw `find` of
the quarter's score documents; and, when
KAFKA_BOOTSTRAP_SERVERS is set, the service's consumer catching up on a backlog of `--stream`
accepted activity events (events/s, and until their scores are written), against a raw aiokafka
consumer of the same messages and a raw `insert_many` of their documents; and accepted → visible
in the branch's score card while `--rate` events/s arrive for `--seconds` (p50 / p95), with the
service's rescore loop running as it runs in the service.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cpu
from alliance_evaluation.domain.facts import (
    Branch,
    Classification,
    DuesPayment,
    Institution,
    Learning,
    Meeting,
    PeriodFacts,
    PublicActivity,
    Rating,
    Stint,
)
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.domain.ruleset import load_ruleset
from alliance_evaluation.domain.scoring import score_period
from alliance_evaluation.usecases import scoring

YEAR = 2026
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "bench"
OWNERSHIP = ("state_owned", "private", "emerging")
LEVELS = ("L1", "L2", "L3")


def synthetic_year(branches: int, seed: int = 42) -> tuple[PeriodFacts, int]:
    """`branches` branches (10 per institution), 5–12 members each, a year of events:
    三会一课 by the calendar (10% skipped), learning twice a member-month, monthly dues, public
    activities quarterly, a rating for every fifth branch."""
    rnd = random.Random(seed)
    f = PeriodFacts()
    events = 0
    for i in range(max(1, branches // 10)):
        f.institutions[f"i{i}"] = Institution(
            f"i{i}",
            f"机构{i}",
            (
                (
                    date(2020, 1, 1),
                    Classification(rnd.choice(OWNERSHIP), "established_complete", rnd.choice(LEVELS)),
                ),
            ),
        )
    kinds_monthly = ("branch_committee_meeting", "theme_party_day")
    for b in range(branches):
        bid, inst = f"b{b}", f"i{b // 10}"
        groups = rnd.random() < 0.3
        f.branches[bid] = Branch(bid, (inst,), "branch", f"支部{b}", date(2019, 1, 1), None, groups)
        members = [f"m{b}-{k}" for k in range(rnd.randint(5, 12))]
        f.stints += [Stint(m, bid, date(2024, 1, 1), None) for m in members]
        for month in range(1, 13):
            kinds = [*kinds_monthly, *(("party_group_meeting",) if groups else ())]
            if month % 3 == 0:
                kinds += ["branch_general_meeting", "party_lesson"]
            for kind in kinds:
                if rnd.random() < 0.1:
                    continue
                day = date(YEAR, month, rnd.randint(1, 28))
                recv = datetime(YEAR, month, day.day, 3, tzinfo=UTC) + timedelta(
                    days=rnd.choice((0, 0, 1, 5, 20))
                )
                f.meetings.append(
                    Meeting(f"e{events}", bid, kind, day, rnd.randint(3, len(members)), len(members), recv)
                )
                events += 1
            for m in members:
                for _ in range(2):
                    d = date(YEAR, month, rnd.randint(1, 28))
                    f.learning.append(
                        Learning(
                            f"e{events}",
                            m,
                            d,
                            rnd.randint(3, 40),
                            datetime(YEAR, month, d.day, 12, tzinfo=UTC),
                        )
                    )
                    events += 1
                if rnd.random() < 0.9:
                    f.dues.append(
                        DuesPayment(
                            f"e{events}", m, f"{YEAR}-{month:02d}", datetime(YEAR, month, 15, tzinfo=UTC)
                        )
                    )
                    events += 1
            if month % 3 == 1:
                f.public_activities.append(
                    PublicActivity(
                        f"e{events}",
                        bid,
                        date(YEAR, month, 9),
                        tuple(rnd.sample(members, 3)),
                        datetime(YEAR, month, 9, tzinfo=UTC),
                    )
                )
                events += 1
        if b % 5 == 0:
            f.ratings.append(
                Rating(f"r{b}", "branch", bid, "ev", rnd.choice(("excellent", "good", "average")))
            )
    return f, events


def time_pure(branches: int, period: Period) -> dict[str, float]:
    rs = load_ruleset("2026.1")
    t0 = time.perf_counter()
    facts, events = synthetic_year(branches)
    generated = time.perf_counter() - t0
    t1 = time.perf_counter()
    first = score_period(facts, period, rs)
    scored = time.perf_counter() - t1
    second = score_period(facts, period, rs)
    same = [c.digest() for c in first.institutions] == [c.digest() for c in second.institutions]
    return {
        "branches": branches,
        "events": events,
        "generate_s": generated,
        "rescore_s": scored,
        "identical_replay": same,
        "cards": len(first.branches) + len(first.institutions),
    }


SIZES = {  # institutions, branches, members, activity events in the quarter
    "small": (100, 1_000, 3_300, 6_600),
    "default": (300, 3_000, 10_000, 20_000),
    "city": (3_000, 30_000, 100_000, 200_000),
}


def city_documents(institutions: int, branches: int, members: int, events: int, period: Period, seed: int = 7):  # type: ignore[no-untyped-def]
    """The projections evaluation keeps, as the consumers write them: institutions with their class,
    branches (one in fifty a joint branch covering the next institution too), members on the roll
    of one branch each, and the quarter's accepted activity — about 45 % meetings, 35 % learning,
    15 % dues, 5 % public activities, an incident for one institution in a hundred."""
    rnd = random.Random(seed)
    p, start = str(period), period.start
    inst_ids = [f"i{i:05d}" for i in range(institutions)]
    insts = [
        {
            "_id": iid,
            "name": f"机构{iid}",
            "classes": [
                {
                    "from": "2020-01-01",
                    "event_id": f"x-{iid}",
                    "ownership": OWNERSHIP[n % 3],
                    "party_org_status": "established_complete",
                    "reporting_level": LEVELS[n % 3],
                    "sector": "",
                }
            ],
        }
        for n, iid in enumerate(inst_ids)
    ]
    orgs = []
    for b in range(branches):
        owner = b * institutions // branches
        covers = [inst_ids[owner]]
        joint = b % 50 == 49 and owner + 1 < institutions
        if joint:
            covers.append(inst_ids[owner + 1])
        orgs.append(
            {
                "_id": f"o{b:06d}",
                "institution_ids": covers,
                "kind": "joint_branch" if joint else "branch",
                "name": f"支部{b}",
                "opened": "2019-01-01",
                "has_party_groups": b % 3 == 0,
            }
        )
    people = []
    for m in range(members):
        org = orgs[m * branches // members]
        people.append(
            {
                "_id": f"m{m:07d}",
                "institution_ids": org["institution_ids"][:1],
                "org_ids": [org["_id"]],
                "changes": [
                    {"event_id": f"x-m{m}", "on": "2024-01-01", "kind": "registered", "org": org["_id"],
                     "status": "full", "pocket": m % 50 == 0}
                ],
            }
        )  # fmt: skip
    kinds = ("theme_party_day", "branch_committee_meeting", "branch_general_meeting", "party_lesson")
    acts = []

    def day() -> date:
        return start + timedelta(days=rnd.randrange(90))

    def received(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, 3, tzinfo=UTC) + timedelta(days=rnd.choice((0, 0, 1, 5)))

    for n in range(events):
        roll = rnd.random()
        d = day()
        doc: dict = {"_id": f"e{n:07d}", "period": p, "received_at": received(d), "superseded_by": None}
        if roll < 0.45:
            org = orgs[rnd.randrange(branches)]
            doc |= {"type": "fpba.meeting.held.v1", "organization_id": org["_id"],
                    "institution_id": org["institution_ids"][0], "kind": kinds[n % len(kinds)],
                    "held_on": d.isoformat(), "attendees": 3, "expected": 4}  # fmt: skip
        elif roll < 0.80:
            who = people[rnd.randrange(members)]
            doc |= {"type": "fpba.learning.completed.v1", "member_id": who["_id"],
                    "institution_id": who["institution_ids"][0], "day": d.isoformat(),
                    "minutes": rnd.randint(5, 60)}  # fmt: skip
        elif roll < 0.95:
            who = people[rnd.randrange(members)]
            doc |= {"type": "fpba.dues.paid.v1", "member_id": who["_id"], "institution_id": who["institution_ids"][0],
                    "month": d.isoformat()[:7], "amount_cny": 30}  # fmt: skip
        else:
            org = orgs[rnd.randrange(branches)]
            doc |= {"type": "fpba.public_activity.held.v1", "organization_id": org["_id"],
                    "institution_id": org["institution_ids"][0], "held_on": d.isoformat(),
                    "participant_ids": [], "hours": 2}  # fmt: skip
        acts.append(doc)
    for n, iid in enumerate(inst_ids[::100]):
        d = day()
        acts.append({"_id": f"inc{n:05d}", "period": p, "type": "fpba.compliance.incident.v1", "institution_id": iid,
                     "severity": "minor", "occurred_on": d.isoformat(), "received_at": received(d),
                     "superseded_by": None})  # fmt: skip
    return {"institutions": insts, "organizations": orgs, "members": people, "activities": acts}


async def _insert(collection, docs: list, batch: int = 2_000) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for k in range(0, len(docs), batch):
        await collection.insert_many([dict(d) for d in docs[k : k + batch]], ordered=False)
    return time.perf_counter() - started


def _phases(ev) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Wall time of the rescore's phases (load facts, score, write), summed over its chunks."""
    from alliance_evaluation.usecases import scoring as handlers  # the module the rescore calls them from

    spent = {"load facts": 0.0, "score": 0.0, "write": 0.0}
    load, score, store = ev.projections.load_facts, handlers.score_period, handlers.store_scores

    async def timed_load(*a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return await load(*a, **k)
        finally:
            spent["load facts"] += time.perf_counter() - t

    def timed_score(*a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return score(*a, **k)
        finally:
            spent["score"] += time.perf_counter() - t

    async def timed_store(*a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return await store(*a, **k)
        finally:
            spent["write"] += time.perf_counter() - t

    ev.projections.load_facts = timed_load
    quarter = ev.projections.quarter_activities

    async def timed_quarter(*a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return await quarter(*a, **k)
        finally:
            spent["load facts"] += time.perf_counter() - t

    ev.projections.quarter_activities = timed_quarter
    handlers.score_period = timed_score
    handlers.store_scores = timed_store
    return spent


async def time_city(  # type: ignore[type-arg]
    counts: tuple[int, int, int, int], period: Period, chunk: int, profile: bool, extra: list[str]
) -> dict:
    """Load the alliance into a fresh database, then time the service's rescore of the quarter in a
    process of its own (its peak RSS is the service's, not the generator's) and the raw baseline
    (the same score documents by `insert_many`), in the same run."""
    import json

    from alliance_evaluation.adapters import projections as pj
    from alliance_evaluation.adapters import ranks
    from alliance_evaluation.adapters import readmodels as rm
    from alliance_shared.mongo import connect, ensure_indexes
    from alliance_shared.testing import namespace

    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017")
    db_name = namespace("bench").replace("-", "_")
    client = connect(uri)
    db = client[db_name]
    out: dict = {"counts": counts, "chunk": chunk}
    try:
        await ensure_indexes(db, [*pj.INDEXES, *rm.INDEXES, *ranks.INDEXES])
        t0 = time.perf_counter()
        docs = city_documents(*counts, period)
        out["generate_s"] = time.perf_counter() - t0
        print(f"  generated {sum(len(v) for v in docs.values()):,} documents in {out['generate_s']:.1f}s", flush=True)
        for name, items in docs.items():
            took = await _insert(db[name], items)
            print(f"  loaded {len(items):>7,} {name:<13} {took:6.1f}s ({len(items) / took:,.0f} docs/s)", flush=True)
        del docs
        argv = [sys.executable, __file__, "--store", "--rescore-db", db_name, "--period", str(period)]
        argv += ["--chunk", str(chunk), *(["--profile"] if profile else []), *extra]
        child = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
        assert child.stdout is not None
        async for line in child.stdout:
            text = line.decode()
            if text.startswith("RESULT "):
                out |= json.loads(text[len("RESULT ") :])
            else:
                print(text, end="", flush=True)
        if await child.wait() != 0:
            raise SystemExit(f"the rescore process failed ({child.returncode})")
        scores = await db.scores.find({"period": str(period)}).to_list(None)
        out["cards"] = len(scores)
        if scores:
            out["baseline_s"] = await _insert(db.baseline_scores, scores)
        return out
    finally:
        await client.drop_database(db_name)
        await client.close()


async def _probe(db, until) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """What a consumer sees while `until` runs: every 100 ms one event-sized write and one read by
    `_id` in the same process and store (the milliseconds each round took, p50 / p95 / max)."""
    task = asyncio.ensure_future(until)
    took: list[float] = []
    n = 0
    while not task.done():
        t = time.perf_counter()
        await db.probe.update_one({"_id": f"p{n % 50}"}, {"$set": {"n": n}}, upsert=True)
        await db.probe.find_one({"_id": f"p{n % 50}"})
        took.append((time.perf_counter() - t) * 1000)
        n += 1
        await asyncio.sleep(0.1)
    await task
    took.sort()
    return {"p50_ms": took[len(took) // 2], "p95_ms": took[int(len(took) * 0.95)], "max_ms": took[-1], "n": len(took)}


def _profile_threads(sessions: list) -> None:  # type: ignore[type-arg]
    """Profile the work the rescore runs in threads (pyinstrument follows one thread): each call of
    `_scored` and `_documents` gets a session, combined when printed."""
    from alliance_evaluation.adapters import scorebook
    from alliance_evaluation.usecases import scoring as handlers
    from pyinstrument import Profiler

    def profiled(fn):  # type: ignore[no-untyped-def]
        def run(*a, **k):  # type: ignore[no-untyped-def]
            p = Profiler(async_mode="disabled")
            p.start()
            try:
                return fn(*a, **k)
            finally:
                sessions.append(p.stop())

        return run

    handlers._scored = profiled(handlers._scored)
    scorebook._documents = profiled(scorebook._documents)


async def rescore_in(  # type: ignore[type-arg]
    db_name: str, period: Period, chunk: int, profile: bool, parts: set, stream: tuple, commands_wanted: bool = False,
    heap_wanted: bool = False,
) -> dict:
    """The service's rescore of the quarter over a loaded database, then again with nothing new;
    then the other `parts` (the lagging scan, the consumer)."""

    from alliance_shared.mongo import connect

    commands = _command_log() if commands_wanted else None
    heap = _Heap() if heap_wanted else None
    client = connect(os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017"))
    db = client[db_name]
    out: dict = {"rss_before_mb": _rss_now_mb("VmHWM")}

    def part(name: str) -> None:
        if commands is not None:
            commands["part"] = name
        if heap is not None:
            heap.part = name

    try:
        if "rescore" in parts:
            part("rescore")
            out |= await _rescore_parts(db, db_name, period, chunk, profile)
        out["rss_rescore_mb"] = _rss_now_mb("VmHWM")
        out["rss_after_rescore_mb"] = _rss_now_mb()
        if "scan" in parts:
            part("scan")
            out |= await time_scan(db, period)
            print(f"  scanned in {out['scan_s']:.1f}s", flush=True)
        if "export" in parts:
            part("export")
            out |= await time_exports(db, period)
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if kafka and parts & {"consume", "latency"}:
            part("stream")
            out |= await time_stream(db, kafka, period, *stream, parts)
        out["rss_peak_mb"] = _rss_now_mb("VmHWM")
        if commands is not None:
            _print_commands(commands)
        if heap is not None:
            out["traced_peak_mb"] = heap.report()
        return out
    finally:
        await client.close()


def _rss_now_mb(field: str = "VmRSS") -> float:
    """The process's resident set now (VmRSS), or its peak so far (VmHWM), MB. Not `ru_maxrss`: a
    child started by fork and exec inherits its parent's (the generator's) peak in it."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _Heap:
    """tracemalloc over the rescoring process (`--tracemalloc`): the traced peak, and the sites
    holding the most at the largest traced size seen (looked at every half second)."""

    def __init__(self) -> None:
        import tracemalloc

        tracemalloc.start(6)
        self.part = ""
        self._largest = 0
        self._snapshot: Any = None
        self._at = ""
        self._task = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        import tracemalloc

        while True:
            await asyncio.sleep(0.5)
            current, _ = tracemalloc.get_traced_memory()
            if current > self._largest * 1.1:
                self._largest, self._at = current, self.part
                self._snapshot = None  # the previous one's memory goes before the next is taken
                self._snapshot = tracemalloc.take_snapshot().filter_traces(
                    [tracemalloc.Filter(False, tracemalloc.__file__)]
                )

    def report(self) -> float:
        import tracemalloc

        self._task.cancel()
        _, peak = tracemalloc.get_traced_memory()
        if self._snapshot is not None:
            print(f"  traced peak {peak / 2**20:.0f} MB; at {self._largest / 2**20:.0f} MB traced (during {self._at}):")
            for stat in self._snapshot.statistics("traceback")[:12]:
                frames = " ← ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback)
                print(f"    {stat.size / 2**20:7.1f} MB {stat.count:>9,} blocks  {frames}")
        tracemalloc.stop()
        return peak / 2**20


async def _rescore_parts(db, db_name: str, period: Period, chunk: int, profile: bool) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The rescore of the whole quarter, every card new, then again with nothing new."""
    from alliance_evaluation.adapters.projections import Projections
    from alliance_evaluation.adapters.readmodels import ReadModels
    from alliance_evaluation.settings import EvaluationSettings
    from alliance_evaluation.usecases.unit import EvaluationUnit
    from alliance_shared.clock import FixedClock

    out: dict = {}
    settings = EvaluationSettings(mongodb_database=db_name, rescore_chunk=chunk)
    ev = EvaluationUnit(
        Projections(db),
        ReadModels(db),
        load_ruleset("2026.1"),
        FixedClock(datetime.combine(period.end + timedelta(days=5), datetime.min.time(), UTC)),
        settings,
    )
    spent = _phases(ev)
    profiler = None
    threads: list = []
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
        _profile_threads(threads)
        profiler.start()
    out["probe_idle"] = await _probe(db, asyncio.sleep(3))
    t1 = time.perf_counter()
    cpu1 = time.process_time()
    # the store's servers are started by `alliance_localinfra exec`, the parent of the bench's
    # main process (this one's parent): their CPU is counted beside this process's
    with cpu.spent(root=cpu.parent_of(os.getppid())) as used:
        rescoring = asyncio.ensure_future(scoring.rescore(ev, period, trigger="bench"))
        out["probe_busy"] = await _probe(db, rescoring)
        out["changed"] = rescoring.result()
    out["rescore_s"] = time.perf_counter() - t1
    out["rescore_cpu_s"] = time.process_time() - cpu1
    out["rescore_store_cpu_s"] = used["ferretdb"] + used["postgresql"]
    if profiler is not None:
        profiler.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / "evaluation_rescore.html"
        target.write_text(profiler.output_html())
        print(profiler.output_text(unicode=True, color=False, show_all=False)[:8000])
        if threads:
            from pyinstrument.renderers import ConsoleRenderer
            from pyinstrument.session import Session

            combined = threads[0]
            for more in threads[1:]:
                combined = Session.combine(combined, more)
            print("  the work run in threads (scoring, rendering, building the documents):")
            print(ConsoleRenderer(unicode=True, color=False, show_all=False).render(combined)[:8000])
        print(f"  profile: {target}")
    print(f"  rescored in {out['rescore_s']:.1f}s ({out['changed']:,} cards written)", flush=True)
    out["phases"] = dict(spent)
    spent.update(dict.fromkeys(spent, 0.0))
    t2 = time.perf_counter()
    cpu2 = time.process_time()
    with cpu.spent(root=cpu.parent_of(os.getppid())) as used:
        out["unchanged"] = await scoring.rescore(ev, period, trigger="bench")
    out["repeat_s"] = time.perf_counter() - t2
    out["repeat_cpu_s"] = time.process_time() - cpu2
    out["repeat_store_cpu_s"] = used["ferretdb"] + used["postgresql"]
    out["repeat_phases"] = dict(spent)
    import bson

    for name in ("scores", "computations", "ranks"):
        docs = await db[name].find({}).to_list(300)
        out[f"{name}_bytes"] = sum(len(bson.encode(d)) for d in docs) / max(1, len(docs))
    return out


PARTS = ("rescore", "scan", "export", "consume", "latency")


def _command_log() -> dict:  # type: ignore[type-arg]
    """Every store command's time by (part, command, collection), through a PyMongo listener."""
    from pymongo import monitoring

    spent: dict = {"part": "", "by": {}}
    collections: dict[int, str] = {}

    class Listener(monitoring.CommandListener):
        def started(self, event: Any) -> None:
            collections[event.request_id] = str(event.command.get(event.command_name, ""))

        def _add(self, event: Any) -> None:
            name = event.command_name
            key = (spent["part"], name, collections.pop(event.request_id, ""))
            n, total = spent["by"].get(key, (0, 0.0))
            spent["by"][key] = (n + 1, total + event.duration_micros / 1e6)

        def succeeded(self, event: Any) -> None:
            self._add(event)

        def failed(self, event: Any) -> None:
            self._add(event)

    monitoring.register(Listener())
    return spent


def _print_commands(spent: dict) -> None:  # type: ignore[type-arg]
    rows = sorted(spent["by"].items(), key=lambda kv: -kv[1][1])[:40]
    print("  store commands by part and command (count, seconds):")
    for (part, name, coll), (n, total) in rows:
        print(f"    {part:<8} {name:<14} {coll:<20} {n:>7,} {total:8.2f}s")


class RunningClock:
    """The wall clock moved to `at` when the bench starts (marks and receipt times keep moving)."""

    def __init__(self, at: datetime) -> None:
        self._offset = at - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


async def time_scan(db, period: Period) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The lagging scan of every branch three days before the quarter ends (its rank rows read,
    missing reports announced), against the raw reads and writes of the same documents."""
    from alliance_evaluation.adapters.projections import Projections
    from alliance_evaluation.adapters.readmodels import ReadModels
    from alliance_evaluation.settings import EvaluationSettings
    from alliance_evaluation.usecases.unit import EvaluationUnit
    from alliance_shared.clock import FixedClock

    clock = FixedClock(datetime.combine(period.end - timedelta(days=3), datetime.min.time(), UTC))
    ev = EvaluationUnit(Projections(db), ReadModels(db), load_ruleset("2026.1"), clock, EvaluationSettings())
    out: dict = {}
    t = time.perf_counter()
    out["scan_counts"] = await scoring.scan_lagging(ev)
    out["scan_s"] = time.perf_counter() - t
    t = time.perf_counter()
    again = await scoring.scan_lagging(ev)
    out["scan_again_s"] = time.perf_counter() - t
    out["scan_again_counts"] = again
    # baseline: read what the scan reads (the branches, the meetings, the quarter's rank rows), write
    # as many lagging-sized documents as it wrote
    t = time.perf_counter()
    orgs = await db.organizations.find({}, {"institution_ids": 1, "opened": 1, "closed": 1}).to_list(None)
    query = {"type": "fpba.meeting.held.v1"}
    meetings = await db.activities.find(query, {"organization_id": 1, "held_on": 1}).to_list(None)
    ranks_ = await db.ranks.find({"period": str(period)}).to_list(None)
    written = await db.lagging.count_documents({})
    docs = [{"_id": f"raw-{n}", "status": "lagging", "institution_id": "i", "days_since_last_meeting": 61,
             "period": str(period), "checked_at": clock.now()} for n in range(written)]  # fmt: skip
    for k in range(0, len(docs), 2_000):
        await db.baseline_lagging.insert_many(docs[k : k + 2_000], ordered=False)
    out["scan_baseline_s"] = time.perf_counter() - t
    out["scan_baseline_read"] = len(orgs) + len(meetings) + len(ranks_)
    out["scan_written"] = written
    return out


async def time_exports(db, period: Period) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The workbooks an export job makes (the service's own path, `exports.workbook_file`): the
    quarter's scores workbook (every card, with breakdowns), the branch ranking and the heat map of
    every branch, against a raw `find` of the quarter's score documents."""
    from alliance_evaluation.adapters.projections import Projections
    from alliance_evaluation.adapters.readmodels import ReadModels
    from alliance_evaluation.domain import peers
    from alliance_evaluation.entrypoints.dashboard.exports import workbook_file
    from alliance_evaluation.settings import EvaluationSettings
    from alliance_evaluation.usecases.unit import EvaluationUnit
    from alliance_shared.clock import FixedClock

    clock = FixedClock(datetime.combine(period.end, datetime.min.time(), UTC))
    ev = EvaluationUnit(Projections(db), ReadModels(db), load_ruleset("2026.1"), clock, EvaluationSettings())
    table = {"period": str(period), "level": "branch", "peer": {}, "institution_id": None, "q": None,
             "status": None, "grouping": peers.DEFAULT_GROUPING, "span": "quarter"}
    out: dict = {"exports": {}}
    for asked in ({"table": "scores", "period": str(period), "institution_id": None},
                  table | {"table": "rankings"}, table | {"table": "heatmap"}):
        t = time.perf_counter()
        body, name = await workbook_file(ev, asked)
        out["exports"][name] = {"s": time.perf_counter() - t, "bytes": len(body)}
        print(f"  {name}: {out['exports'][name]['s']:.1f}s, {len(body) / 1e6:.1f} MB", flush=True)
    t = time.perf_counter()
    out["export_baseline_docs"] = len(await db.scores.find({"period": str(period)}).to_list(None))
    out["export_baseline_s"] = time.perf_counter() - t
    return out


async def _sample(db, limit: int = 5_000) -> tuple[list, list]:  # type: ignore[type-arg]
    """Branches and members to report events for (each member with its branch and institution)."""
    orgs = await db.organizations.find({"kind": "branch"}, {"institution_ids": 1}).to_list(limit)
    members = await db.members.find({}, {"org_ids": 1, "institution_ids": 1}).to_list(limit * 4)
    return orgs, members


def _events(  # type: ignore[type-arg]
    orgs: list, members: list, n: int, period: Period, now: datetime, seed: int = 11, meetings: float = 0.45
) -> list:
    """`n` accepted activity events as activity publishes them (`meetings` of them meetings, the
    rest learning and dues, 8 to 1)."""
    from alliance_shared.contracts import activity as act
    from alliance_shared.contracts.catalog import envelope

    rnd = random.Random(seed)
    out = []
    for k in range(n):
        roll = rnd.random()
        day = period.start + timedelta(days=rnd.randrange(90))
        if roll < meetings:
            org = orgs[rnd.randrange(len(orgs))]
            payload: Any = act.MeetingHeld(
                organization_id=org["_id"], meeting_kind="theme_party_day",
                held_at=datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=2),
                attendee_ids=[], expected_count=4, topic="bench",
            )  # fmt: skip
            inst = org["institution_ids"][0]
        else:
            m = members[rnd.randrange(len(members))]
            inst = m["institution_ids"][0]
            if roll < meetings + (1 - meetings) * 8 / 9:
                payload = act.LearningCompleted(member_id=m["_id"], date=day, minutes=5 + k % 50)
            else:
                payload = act.DuesPaid(member_id=m["_id"], month=day.isoformat()[:7], amount_cny=30)
        event = envelope(payload, source="/bench", institutionid=inst, reportinglevel="L2", channel="batch",
                         receivedat=now)  # fmt: skip
        out.append((payload, event))
    return out


async def time_stream(db, kafka: str, period: Period, backlog: int, rate: int, seconds: int, parts: set) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The service's consumer and rescore loop on their own topics: a backlog of `backlog` events
    caught up, then `rate` events/s for `seconds` with a probe meeting a second (accepted → its id in
    its branch's score card)."""
    import json

    from aiokafka import AIOKafkaConsumer
    from alliance_evaluation.adapters.projections import Projections
    from alliance_evaluation.adapters.readmodels import ReadModels
    from alliance_evaluation.entrypoints.consumers import consumer_specs
    from alliance_evaluation.entrypoints.schedule import loops
    from alliance_evaluation.handlers import activity_document
    from alliance_evaluation.settings import EvaluationSettings
    from alliance_evaluation.usecases.unit import EvaluationUnit
    from alliance_localinfra import create_topics
    from alliance_shared.contracts import activity as act
    from alliance_shared.contracts.catalog import envelope
    from alliance_shared.contracts.topics import ACTIVITY_EVENTS, all_topics
    from alliance_shared.kafka.consumer import ConsumerRunner
    from alliance_shared.kafka.producer import EventPublisher, Outgoing

    prefix = f"{db.name}."
    by_count: dict[int, list[str]] = {}
    for topic, n in all_topics().items():
        by_count.setdefault(n, []).append(prefix + topic)
    for n, names in by_count.items():
        await asyncio.to_thread(create_topics, kafka, names, n)
    clock = RunningClock(datetime.combine(period.end + timedelta(days=5), datetime.min.time(), UTC))
    settings = EvaluationSettings(mongodb_database=db.name)
    ev = EvaluationUnit(Projections(db), ReadModels(db), load_ruleset("2026.1"), clock, settings)
    publisher = EventPublisher(kafka, topic_prefix=prefix)
    await publisher.start()
    orgs, members = await _sample(db)
    out: dict = {}

    async def send(items: list) -> None:  # type: ignore[type-arg]
        for k in range(0, len(items), 1_000):
            await publisher.publish_many(
                [Outgoing(ACTIVITY_EVENTS, e, p.ordering_key()) for p, e in items[k : k + 1_000]]
            )

    spec = consumer_specs(ev, "bench-evaluation")[0]
    runner = ConsumerRunner(
        bootstrap_servers=kafka, group_id=spec.group_id, topics=spec.topics, handler=spec.handler,
        publisher=publisher, policy=spec.policy, on_batch_end=spec.on_batch_end,
    )  # fmt: skip
    background: list[asyncio.Task] = []  # type: ignore[type-arg]
    try:
        if "consume" in parts:
            items = _events(orgs, members, backlog, period, clock.now())
            await send(items)
            # baselines: a raw consumer of the same messages; a raw insert of their documents
            raw = AIOKafkaConsumer(prefix + ACTIVITY_EVENTS, bootstrap_servers=kafka, group_id="bench-raw",
                                   auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
            await raw.start()
            t, seen = time.perf_counter(), 0
            while seen < backlog:
                got = await raw.getmany(timeout_ms=500)
                seen += sum(len(v) for v in got.values())
            out["raw_consume_s"] = time.perf_counter() - t
            await raw.stop()
            docs = [activity_document(p, e, clock.now()) for p, e in items]
            t = time.perf_counter()
            for k in range(0, len(docs), 1_000):
                await db.baseline_activities.insert_many(docs[k : k + 1_000], ordered=False)
            out["raw_insert_s"] = time.perf_counter() - t
            del docs
            t = time.perf_counter()
            background.append(asyncio.create_task(runner.run()))
            while runner.state.handled + runner.state.duplicates + runner.state.dead_lettered < backlog:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            out["consume_s"] = time.perf_counter() - t
            while await ev.models.dirty(limit=1):
                await scoring.rescore_dirty(ev)
            out["consume_scored_s"] = time.perf_counter() - t
            out["backlog"] = backlog
        if "latency" in parts:
            if not background:
                background.append(asyncio.create_task(runner.run()))
            for loop in loops(ev)[:1]:  # the rescore queue, as the service runs it
                background.append(asyncio.create_task(loop(None)))  # type: ignore[arg-type]
            found: list[float] = []
            lost = [0]
            watchers: list[asyncio.Task] = []  # type: ignore[type-arg]

            async def watch(branch: str, event_id: str, accepted: float) -> None:
                while time.monotonic() < accepted + 60:
                    doc = await ev.models.score(str(period), "branch", branch)
                    if doc is not None and event_id in json.dumps(doc, default=str):
                        found.append(time.monotonic() - accepted)
                        return
                    await asyncio.sleep(0.1)
                lost[0] += 1

            per_tick = max(1, rate // 10)
            started = time.monotonic()
            sent = 0
            # as bench/city.py sends them: each tick one institution's batch of its members' learning,
            # one probe meeting a second in one of its branches
            members_of: dict[str, list] = {}  # type: ignore[type-arg]
            for m in members:
                members_of.setdefault(m["institution_ids"][0], []).append(m)
            branches_of: dict[str, list] = {}  # type: ignore[type-arg]
            for o in orgs:
                if o["institution_ids"][0] in members_of:
                    branches_of.setdefault(o["institution_ids"][0], []).append(o)
            owners = sorted(branches_of)
            for tick in range(seconds * 10):
                inst = owners[(tick * 7919) % len(owners)]
                items = _events(branches_of[inst], members_of[inst], per_tick, period, clock.now(), 1_000 + tick, 0.0)
                probe = None
                if tick % 10 == 0:
                    org = branches_of[inst][(tick // 10) % len(branches_of[inst])]
                    payload = act.MeetingHeld(
                        organization_id=org["_id"], meeting_kind="branch_committee_meeting",
                        held_at=datetime.combine(period.end, datetime.min.time(), UTC) - timedelta(minutes=tick),
                        attendee_ids=[], expected_count=4, topic="probe",
                    )  # fmt: skip
                    event = envelope(payload, source="/bench", institutionid=org["institution_ids"][0],
                                     reportinglevel="L2", channel="batch", receivedat=clock.now())  # fmt: skip
                    items[-1] = (payload, event)
                    probe = (org["_id"], event.id)
                await send(items)
                sent += len(items)
                if probe is not None:
                    watchers.append(asyncio.create_task(watch(*probe, time.monotonic())))
                await asyncio.sleep(max(0.0, started + (tick + 1) / 10 - time.monotonic()))
            out["latency_rate"] = sent / (time.monotonic() - started)
            await asyncio.gather(*watchers)
            found.sort()
            out["latency"] = {
                "p50_s": found[len(found) // 2] if found else None,
                "p95_s": found[min(len(found) - 1, int(len(found) * 0.95))] if found else None,
                "max_s": found[-1] if found else None,
                "probes": len(found),
                "lost": lost[0],
            }
    finally:
        runner.stop()
        for task in background[1:]:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await publisher.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period", default=f"{YEAR}-Q3")
    parser.add_argument("--store", action="store_true", help="time the store path (MONGODB_URI) instead")
    parser.add_argument("--size", choices=sorted(SIZES), default="default", help="store mode's alliance")
    for name in ("institutions", "branches", "members", "events"):
        parser.add_argument(f"--{name}", type=int, help=f"store mode: {name} (overrides --size)")
    parser.add_argument("--chunk", type=int, help="institutions scored per round trip (default: the service's)")
    parser.add_argument("--profile", action="store_true", help="store mode: profile the rescore (pyinstrument)")
    parser.add_argument("--rescore-db", help=argparse.SUPPRESS)  # the rescore's own process (store mode)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"store mode: which of {','.join(PARTS)}")
    parser.add_argument("--stream", type=int, default=20_000, help="store mode: the consumer's backlog of events")
    parser.add_argument("--rate", type=int, default=1_000, help="store mode: events/s for the latency run")
    parser.add_argument("--seconds", type=int, default=30, help="store mode: length of the latency run")
    parser.add_argument("--commands", action="store_true", help="store mode: time the store commands by part")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="store mode: the traced peak and what held the most at it (slow)"
    )
    parser.add_argument("--pure-branches", type=int, default=10_000)
    parser.add_argument("--pure-baseline", type=int, default=1_000)
    args = parser.parse_args()
    period = Period.parse(args.period)
    if args.rescore_db:
        import json

        parts = set(args.parts.split(","))
        stream = (args.stream, args.rate, args.seconds)
        result = asyncio.run(
            rescore_in(
                args.rescore_db, period, args.chunk, args.profile, parts, stream, args.commands, args.tracemalloc
            )
        )
        print("RESULT " + json.dumps(result, default=str))
        return
    if args.store:
        from alliance_evaluation.settings import EvaluationSettings

        sized = SIZES[args.size]
        counts = tuple(
            given if given is not None else default
            for given, default in zip((args.institutions, args.branches, args.members, args.events), sized, strict=True)
        )
        chunk = args.chunk or EvaluationSettings().rescore_chunk
        print(
            f"rescoring {period} through the store at {os.environ.get('MONGODB_URI', 'mongodb://127.0.0.1:27017')}: "
            f"{counts[0]:,} institutions, {counts[1]:,} branches, {counts[2]:,} members, {counts[3]:,} events, "
            f"chunks of {chunk}"
        )
        extra = ["--parts", args.parts, "--stream", str(args.stream), "--rate", str(args.rate)]
        extra += ["--seconds", str(args.seconds), *(["--commands"] if args.commands else [])]
        extra += ["--tracemalloc"] if args.tracemalloc else []
        r = asyncio.run(time_city(counts, period, chunk, args.profile, extra))  # type: ignore[arg-type]
        def phases(p: dict[str, float]) -> str:
            return ", ".join(f"{k} {v:.1f}s" for k, v in p.items())

        if "rescore_s" in r:
            print(
                f"  rescore, every card new     {r['rescore_s']:7.1f}s  ({r['changed']:,} changed, "
                f"{r['rescore_cpu_s']:.1f}s CPU in the service's process, "
                f"{r['rescore_store_cpu_s']:.1f}s in the store's)"
            )
            print(f"    {phases(r['phases'])} (overlapping: the chunks are pipelined)")
            print(
                f"  rescore again, nothing new  {r['repeat_s']:7.1f}s  ({r['unchanged']:,} changed, "
                f"{r['repeat_cpu_s']:.1f}s CPU in the service's process, "
                f"{r['repeat_store_cpu_s']:.1f}s in the store's)"
            )
            print(f"    {phases(r['repeat_phases'])}")
            print(f"  raw insert_many of the {r['cards']:,} score documents (baseline) {r['baseline_s']:.1f}s")
            print(
                f"  ratio rescore ÷ raw insert {r['rescore_s'] / r['baseline_s']:.1f}×, "
                f"repeat ÷ raw insert {r['repeat_s'] / r['baseline_s']:.1f}×"
            )
            for name in ("probe_idle", "probe_busy"):
                q = r[name]
                print(
                    f"  {'idle' if name == 'probe_idle' else 'during the rescore'}: a write and a read by _id every "
                    f"100 ms p50 {q['p50_ms']:.0f} ms, p95 {q['p95_ms']:.0f} ms, max {q['max_ms']:.0f} ms "
                    f"({q['n']} rounds)"
                )
            print(
                f"  documents written: scores {r['scores_bytes'] / 1024:.1f} KiB, computations "
                f"{r['computations_bytes'] / 1024:.1f} KiB, ranks {r['ranks_bytes'] / 1024:.1f} KiB on average"
            )
            print(
                f"  peak RSS after the rescore {r['rss_rescore_mb']:.0f} MB (VmHWM), resident once done "
                f"{r['rss_after_rescore_mb']:.0f} MB"
            )
        if "scan_s" in r:
            c = r["scan_counts"]
            print(
                f"  lagging scan                {r['scan_s']:7.1f}s  ({c['scanned']:,} branches: "
                f"{c['lagging']:,} lagging, {c['at_risk']:,} at risk, {c['reports_missing']:,} told of missing reports)"
            )
            print(f"  lagging scan again          {r['scan_again_s']:7.1f}s")
            print(
                f"  raw find of the {r['scan_baseline_read']:,} documents it reads + insert_many of the "
                f"{r['scan_written']:,} it writes (baseline) {r['scan_baseline_s']:.1f}s; ratio "
                f"{r['scan_s'] / r['scan_baseline_s']:.1f}×"
            )
        if "exports" in r:
            for name, e in r["exports"].items():
                print(f"  export {name:<26} {e['s']:7.1f}s  ({e['bytes'] / 1e6:.1f} MB; "
                      f"{e['s'] / r['export_baseline_s']:.1f}× the baseline)")
            print(f"  raw find of the quarter's {r['export_baseline_docs']:,} score documents (baseline) "
                  f"{r['export_baseline_s']:.1f}s")
        if "consume_s" in r:
            n = r["backlog"]
            print(
                f"  consumer, a backlog of {n:,} events  {r['consume_s']:7.1f}s  ({n / r['consume_s']:,.0f} events/s; "
                f"scores written after {r['consume_scored_s']:.1f}s: {n / r['consume_scored_s']:,.0f} events/s)"
            )
            print(
                f"  raw aiokafka consumer of the same messages {r['raw_consume_s']:.1f}s "
                f"({n / r['raw_consume_s']:,.0f}/s), raw insert_many of their documents {r['raw_insert_s']:.1f}s "
                f"({n / r['raw_insert_s']:,.0f}/s); ratio consumer ÷ raw insert "
                f"{r['consume_s'] / r['raw_insert_s']:.1f}×"
            )
        if "latency" in r:
            q = r["latency"]
            fmt = lambda v: "—" if v is None else f"{v:.2f}s"  # noqa: E731
            print(
                f"  accepted → in the branch's card at {r['latency_rate']:,.0f} events/s: p50 {fmt(q['p50_s'])}, "
                f"p95 {fmt(q['p95_s'])}, max {fmt(q['max_s'])} ({q['probes']} probes, {q['lost']} lost)"
            )
        print(f"  peak RSS of the rescoring process {r['rss_peak_mb']:.0f} MB (at start {r['rss_before_mb']:.0f} MB)")
        if "traced_peak_mb" in r:
            print(f"  traced peak (tracemalloc) {r['traced_peak_mb']:.0f} MB")
        return
    print(f"rescoring {period} (pure scoring, exact arithmetic, one core) — python {sys.version.split()[0]}")
    base = time_pure(args.pure_baseline, period)
    big = time_pure(args.pure_branches, period)
    for r in (base, big):
        print(
            f"  {r['branches']:>6} branches  {r['events']:>9,} events/year  "
            f"generated {r['generate_s']:6.2f}s  "
            f"rescore {r['rescore_s']:6.2f}s  ({r['cards']} cards, replay identical: {r['identical_replay']})"
        )
    scale = args.pure_branches / args.pure_baseline
    print(
        f"  ratio {big['rescore_s'] / base['rescore_s']:.2f}× time for {scale:.0f}× branches "
        f"({big['rescore_s'] / args.pure_branches * 1000:.3f} ms per branch)"
    )


if __name__ == "__main__":
    main()
