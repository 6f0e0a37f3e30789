"""The big lists, measured (issue 17 item 6): `GET /api/v1/submissions`'s query on ~50,000
submissions, as it was (sort, skip, `count_documents` on every page) and as it is (keyset page read
with `limit + 1`, the total on a first page only, estimated when unfiltered), in one run on one store:
``python bench/lists.py [--docs 50000] [--repeat 5]``.

Uses MONGODB_URI when set, else starts the embedded store. Prints a median per question and way,
and the ratio before ÷ after. The documents are shaped as the activity service writes them (with
the published event they carry), spread over 300 institutions and 30 days, one in ten rejected.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alliance_activity.adapters.submissions import INDEXES, LISTED, SUBMISSIONS, SubmissionStore
from alliance_localinfra import ferretdb as store
from alliance_shared.mongo import connect, ensure_indexes
from alliance_shared.paging import decode_cursor, next_cursor
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpu

Doc = dict[str, Any]
PAGE = 50
START = datetime(2026, 11, 1, tzinfo=UTC)


def submission(i: int) -> Doc:
    accepted = i % 10 != 0
    institution = f"ins-{i % 300:03d}"
    event = {"specversion": "1.0", "id": f"evt-{i:06d}", "source": "/oa/party", "type": "fpba.meeting.held.v1",
             "time": "2026-11-12T12:00:00+08:00", "institutionid": institution, "datacontenttype": "application/json",
             "data": {"organization_id": f"org-{i % 3000:04d}", "meeting_kind": "branch_committee_meeting",
                      "held_at": "2026-11-12T09:00:00+08:00", "attendee_ids": [f"m-{i % 9000 + k}" for k in range(8)],
                      "expected_count": 9, "topic": "学习党章，落实“三会一课”制度" * 2}}
    return {
        "_id": event["id"] if accepted else f"rejected:{event['id']}",
        "status": "accepted" if accepted else "rejected",
        "channel": "batch", "reporter": None, "reporter_key": f"key-{institution}",
        "reporter_institution_id": institution, "received_at": START + timedelta(seconds=i * 52), "row": None,
        "type": event["type"], "batch_id": f"b-{i // 500}",
        "seq": i % 500, "topic": "activity.events.v1", "key": event["data"]["organization_id"], "event": event,
        "event_id": event["id"], "institution_id": institution, "organization_id": event["data"]["organization_id"],
        "superseded_by": None, "flags": [], "reasons": [] if accepted else [{"code": "unknown_member", "field": "x"}],
    }


class Db:
    """What `SubmissionStore` asks of the runtime: its database."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def notify_outbox(self) -> None:
        pass


async def before(col: Any, query: Doc, page: int) -> list[Doc]:
    """The list as it was: a count and a sorted, skipped read on every page."""
    await col.count_documents(query)
    docs: list[Doc] = await col.find(query, LISTED).sort("received_at", -1).skip((page - 1) * PAGE).to_list(PAGE)
    return docs


async def medians_s(old: Callable[[], Awaitable[Any]], new: Callable[[], Awaitable[Any]], repeat: int,
                    spent: dict[str, float]) -> tuple[float, float]:
    """Median seconds of each way, called in turn (old, new, new, old, …) so that a machine
    getting busier or quieter weighs on both alike; the store's CPU of each way into `spent`."""
    times: dict[str, list[float]] = {"old": [], "new": []}
    for k in range(repeat):
        for way in ("old", "new") if k % 2 == 0 else ("new", "old"):
            with cpu.spent() as used:
                t0 = time.perf_counter()
                await (old if way == "old" else new)()
                times[way].append(time.perf_counter() - t0)
            spent[way] = spent.get(way, 0.0) + used["ferretdb"] + used["postgresql"]
    return statistics.median(times["old"]), statistics.median(times["new"])


async def measure(uri: str, docs: int, repeat: int, console: Console) -> list[tuple[str, float, float]]:
    client = connect(uri, app_name="bench-lists")
    db = client[f"bench_lists_{os.getpid()}"]
    col = db[SUBMISSIONS]
    await ensure_indexes(db, INDEXES)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"load {docs:,} submissions", total=docs)
        for k in range(0, docs, 1000):
            await col.insert_many([submission(i) for i in range(k, min(docs, k + 1000))], ordered=False)
            progress.advance(task, min(1000, docs - k))
    subs = SubmissionStore(Db(db))  # type: ignore[arg-type]
    rows: list[tuple[str, float, float]] = []

    async def after(**kw: Any) -> Any:
        return await subs.list(limit=PAGE, skip=0, reporter=None, **kw)

    # a deep page of the rejected (a tenth): before, by skipping 98 pages; after, by the cursor the
    # 98th page answered
    walked = await subs.list(status="rejected", institution_id=None, reporter=None, limit=PAGE, skip=97 * PAGE,
                             with_total=False)
    cursor = next_cursor(walked[0], PAGE, "received_at")
    assert cursor, "fewer than 99 pages of rejected submissions: use --docs 50000 or more"
    cases: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]] = [
        ("secretariat, unfiltered, page 1", lambda: before(col, {}, 1),
         lambda: after(status=None, institution_id=None)),
        ("secretariat, ?status=rejected, page 1", lambda: before(col, {"status": "rejected"}, 1),
         lambda: after(status="rejected", institution_id=None)),
        ("one institution's key, page 1", lambda: before(col, {"reporter_institution_id": "ins-007"}, 1),
         lambda: after(status=None, institution_id="ins-007")),
        ("?status=rejected, the 99th page / by cursor", lambda: before(col, {"status": "rejected"}, 99),
         lambda: after(status="rejected", institution_id=None, position=decode_cursor(cursor), with_total=False)),
        ("the total alone, unfiltered", lambda: col.count_documents({}), lambda: col.estimated_document_count()),
    ]
    for label, old, new in cases:
        spent: dict[str, float] = {}
        t_old, t_new = await medians_s(old, new, repeat, spent)
        store_old, store_new = spent["old"], spent["new"]
        console.print(f"  {label}: before {t_old * 1000:,.0f} ms, after {t_new * 1000:,.0f} ms "
                      f"(the store's CPU {store_old:.2f} → {store_new:.2f} s for {repeat} calls)")
        rows.append((label, t_old, t_new))
    await client.drop_database(db.name)
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
    table = Table(title=f"GET /api/v1/submissions' query on {docs:,} submissions, page of {PAGE}, medians of {repeat}")
    for column in ("question", "before (ms)", "after (ms)", "before ÷ after"):
        table.add_column(column, justify="left" if column == "question" else "right")
    for label, t_old, t_new in rows:
        table.add_row(label, f"{t_old * 1000:,.1f}", f"{t_new * 1000:,.1f}", f"{t_old / t_new:,.1f}×")
    console.print(table)
    console.print("The embedded store sorts in memory after reading every row the pushed-down equality matched "
                  "(a limit goes down only without a sort): a first page costs the rows its filter matches, "
                  "however small the page. MongoDB 7 reads limit + 1 entries of the (…, received_at, _id) indexes.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    main(args.docs, args.repeat)
