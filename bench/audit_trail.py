"""The audit trail's reads, measured: `GET /api/v1/audit`'s query (evaluation's `audit.read`) on
~20,000 records, through the trail's (field, _id) indexes and, as the baseline in the same run, on
the same records in a collection without them: ``python bench/audit_trail.py [--docs 20000] [--repeat 5]``.

Uses MONGODB_URI when set, else starts the embedded store. Prints a median per question and way and
the ratio without ÷ with. The records are shaped as `alliance_shared.audit` writes them: 50 actors,
300 institutions, 20 actions, three services, one a minute over two weeks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alliance_evaluation.adapters.audit import AUDIT, INDEXES, AuditTrail
from alliance_evaluation.usecases.audit import read
from alliance_localinfra import ferretdb as store
from alliance_shared.audit import audit_document, audit_record
from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.mongo import connect, ensure_indexes
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpu

START = datetime(2026, 11, 16, tzinfo=UTC)
ACTIONS = ["period.closed", "adjustment.proposed", "adjustment.approved", "appeal.filed", "exemption.granted",
           "rating.submitted", "follow_up.recorded", "api_key.issued", "api_key.revoked", "member.pii.read",
           "rule.updated", "template.updated", "sms_budget.updated", "institution.reclassified", "appeal.upheld",
           "period.unlocked", "period.unlock_revoked", "adjustment.rejected", "appeal.dismissed", "template.created"]
SERVICES = ["evaluation", "registry", "notification"]
SECRETARIAT = Principal(subject="sec-1", role=Role.SECRETARIAT)


def record(i: int) -> dict[str, Any]:
    who = Principal(subject=f"person-{i % 50:02d}", role=Role.SECRETARIAT, ip=f"10.0.{i % 7}.{i % 250}")
    return audit_document(audit_record(
        who, service=SERVICES[i % 3], action=ACTIONS[i % 20],  # type: ignore[arg-type]
        object_type="branch", object_id=f"org-{i % 3000:04d}", at=START + timedelta(minutes=i),
        institution_id=f"ins-{i % 300:03d}", period="2026-Q4", details={"version": i % 9, "fields": ["steps"]},
    ))  # fmt: skip


async def median_s(call: Any, repeat: int, spent: dict[str, float], way: str) -> float:
    times = []
    for _ in range(repeat):
        with cpu.spent() as used:
            t0 = time.perf_counter()
            await call()
            times.append(time.perf_counter() - t0)
        spent[way] = spent.get(way, 0.0) + used["ferretdb"] + used["postgresql"]
    return statistics.median(times)


async def measure(uri: str, docs: int, repeat: int, console: Console) -> list[tuple[str, float, float]]:
    client = connect(uri, app_name="bench-audit")
    db = client[f"bench_audit_{os.getpid()}"]
    plain = client[f"bench_audit_plain_{os.getpid()}"]  # the same records, no index but `_id`'s
    await ensure_indexes(db, INDEXES)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"load {docs:,} audit records twice", total=docs)
        for k in range(0, docs, 1000):
            batch = [record(i) for i in range(k, min(docs, k + 1000))]
            await db[AUDIT].insert_many(batch, ordered=False)
            await plain[AUDIT].insert_many(batch, ordered=False)
            progress.advance(task, len(batch))
    indexed, bare = AuditTrail(lambda: db), AuditTrail(lambda: plain)
    cases = [
        ("unfiltered, newest 100", {}, None),
        ("?actor=person-07, newest 100", {"actor": "person-07"}, None),
        ("?institution_id=ins-042, newest 100", {"institution_id": "ins-042"}, None),
        ("?action=rule.updated&service=notification", {"action": "rule.updated", "service": "notification"}, None),
        ("?actor=person-07 and a day", {"actor": "person-07"},
         (START + timedelta(days=3), START + timedelta(days=4))),
    ]
    rows = []
    for label, filters, span in cases:
        since, until = span or (None, None)
        spent: dict[str, float] = {}

        async def one(trail: AuditTrail, f: dict[str, Any] = filters, s: Any = since, u: Any = until) -> Any:
            return await read(trail, SECRETARIAT, f, s, u, None, 100)

        first = await one(indexed)
        assert first == await one(bare), label  # the same answer either way
        t_bare = await median_s(lambda: one(bare), repeat, spent, "bare")
        t_indexed = await median_s(lambda: one(indexed), repeat, spent, "indexed")
        console.print(f"  {label}: {len(first['items'])} records; without the indexes {t_bare * 1000:,.0f} ms, "
                      f"with {t_indexed * 1000:,.0f} ms "
                      f"(the store's CPU {spent['bare']:.2f} → {spent['indexed']:.2f} s)")
        rows.append((label, t_bare, t_indexed))
    await client.drop_database(db.name)
    await client.drop_database(plain.name)
    await client.close()
    return rows


def main(docs: int, repeat: int) -> None:
    console = Console(width=140)
    uri = os.environ.get("MONGODB_URI")
    running = None if uri else store.start()
    try:
        rows = asyncio.run(measure(uri or running.mongodb_uri, docs, repeat, console))  # type: ignore[union-attr]
    finally:
        if running is not None:
            running.stop()
    table = Table(title=f"GET /api/v1/audit's query on {docs:,} records, a page of 100, medians of {repeat}")
    for column in ("question", "no index (ms)", "indexes (ms)", "no index ÷ indexes"):
        table.add_column(column, justify="left" if column == "question" else "right")
    for label, t_bare, t_indexed in rows:
        table.add_row(label, f"{t_bare * 1000:,.1f}", f"{t_indexed * 1000:,.1f}", f"{t_bare / t_indexed:,.1f}×")
    console.print(table)
    console.print("The embedded store pushes an indexed equality down and sorts what it matched in memory; the "
                  "`_id` range (time bounds, cursor) is applied after it. MongoDB 7 reads limit + 1 entries of "
                  "the (field, _id) index.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    main(args.docs, args.repeat)
