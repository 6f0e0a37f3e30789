"""The embedded store's patches, measured: each FerretDB build (no patch, then each patch added) on
its own fresh PostgreSQL, the same operations at the same size, in one run:
``python bench/store.py [--docs 30000] [--repeat 20] [--last N]`` (``--last 2``: the last patch alone,
against the build without it).

Prints a median per operation and build, and the ratio of the first build measured to the patched one.
Behind the write-serialising proxy, as the platform uses it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from alliance_localinfra import ferretdb as store
from pymongo import ASCENDING, MongoClient
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

Doc = dict[str, Any]
PATCHES = [p.name for p in store.patches()]
BUILDS: dict[str, list[str]] = {"stock": []}
for _i in range(len(PATCHES)):  # "+01", "+01+02", …: each build adds one patch
    BUILDS["+" + "+".join(p[:2] for p in PATCHES[: _i + 1])] = PATCHES[: _i + 1]


def member(i: int) -> Doc:
    return {
        "_id": f"m{i:06d}",
        "organization_id": f"o{i % 3000}",
        "institution_id": f"i{i % 300}",
        "status": "full" if i % 5 else "probationary",
        "name_sealed": "x" * 120,
        "joined_on": f"20{10 + i % 15}-0{1 + i % 9}-1{i % 9}",
        "version": 1,
        "roles": [{"kind": "member", "since": "2020-01-01"}],
    }


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def measure(uri: str, docs: int, repeat: int) -> dict[str, float]:
    client: MongoClient[Doc] = MongoClient(uri)
    col = client.bench.members
    col.create_index([("organization_id", ASCENDING)])
    col.create_index([("institution_id", ASCENDING), ("status", ASCENDING)])
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    for k in range(0, docs, 500):
        col.insert_many([member(i) for i in range(k, min(docs, k + 500))], ordered=False)
    out["insert, batches of 500 (docs/s)"] = docs / (time.perf_counter() - t0)
    last = f"m{docs - 10:06d}"
    out["find_one by _id (ms)"] = median_ms(lambda: col.find_one({"_id": last}), repeat)
    out["find by indexed organization_id (ms)"] = median_ms(lambda: list(col.find({"organization_id": "o7"})), repeat)
    out["count_documents by institution_id (ms)"] = median_ms(
        lambda: col.count_documents({"institution_id": "i7"}), repeat
    )
    version = iter(range(1, 10**6))
    out["update_one({_id, version}) (ms)"] = median_ms(
        lambda: col.update_one({"_id": last, "version": next(version)}, {"$inc": {"version": 1}}), repeat
    )
    out["filter by org, sort, limit 50 (ms)"] = median_ms(
        lambda: list(col.find({"organization_id": "o9"}).sort("joined_on", -1).limit(50)), repeat
    )
    ids = [f"m{i:06d}" for i in range(0, docs, docs // 50)][:50]
    out["_id $in of 50 ids (ms)"] = median_ms(lambda: list(col.find({"_id": {"$in": ids}})), repeat)
    orgs = [f"o{i}" for i in range(50)]
    out["organization_id $in of 50 (ms)"] = median_ms(
        lambda: list(col.find({"organization_id": {"$in": orgs}})), max(3, repeat // 5)
    )
    members = [f"m{i:06d}" for i in range(0, docs, 3)][:1650]
    out["organization_id $in of 50 + _id $in of 1,650 (ms)"] = median_ms(
        lambda: list(col.find({"organization_id": {"$in": orgs}, "_id": {"$in": members}})), max(3, repeat // 5)
    )
    many = [f"i{i}" for i in range(200)]  # past patch 07's 64: hashed equality, not a row-by-row recheck
    out["institution_id $in of 200 (ms)"] = median_ms(
        lambda: list(col.find({"institution_id": {"$in": many}}, {"_id": 1})), max(3, repeat // 5)
    )
    out["count_documents({}) (ms)"] = median_ms(lambda: col.count_documents({}), max(3, repeat // 5))
    out["find by status, limit 50 (ms)"] = median_ms(lambda: list(col.find({"status": "full"}).limit(50)), repeat)
    newest = [("joined_on", -1), ("_id", -1)]  # a list's first page: the newest first
    out["sort every document, limit 50 (ms)"] = median_ms(
        lambda: list(col.find({}).sort(newest).limit(50)), max(3, repeat // 5)
    )
    out["filter by status, sort, limit 50 (ms)"] = median_ms(
        lambda: list(col.find({"status": "full"}).sort(newest).limit(50)), max(3, repeat // 5)
    )
    out["read the whole collection (ms)"] = median_ms(lambda: list(col.find({}, batch_size=1000)), 3)
    client.close()
    return out


def main(docs: int, repeat: int, last: int) -> None:
    console = Console(width=150)
    results: dict[str, dict[str, float]] = {}
    builds = dict(list(BUILDS.items())[-last:]) if last else BUILDS
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("builds", total=len(builds))
        for label, only in builds.items():
            progress.update(task, description=f"{label}: build, start, load {docs:,} documents")
            binary = store.build(only=only)
            db = store.start(binary=binary)
            try:
                results[label] = measure(db.mongodb_uri, docs, repeat)
            finally:
                db.stop()
            progress.advance(task)
    table = Table(title=f"FerretDB {store.FERRETDB_VERSION} on PostgreSQL, {docs:,} documents, medians")
    table.add_column("operation")
    for label in builds:
        table.add_column(label, justify="right")
    first, full = next(iter(builds)), list(builds)[-1]
    table.add_column(f"{first} ÷ all patches", justify="right")
    for op in results[first]:
        cells = [f"{results[b][op]:,.1f}" for b in builds]
        ratio = results[first][op] / results[full][op]
        if "docs/s" in op:
            ratio = 1 / ratio
        table.add_row(op, *cells, f"{ratio:,.1f}×")
    console.print(table)
    console.print("patches: " + ", ".join(PATCHES))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=30000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--last", type=int, default=0, help="only the last N builds (0: all)")
    args = parser.parse_args()
    main(args.docs, args.repeat, args.last)
