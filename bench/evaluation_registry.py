"""Evaluation's projection of the registry's member events, against the store's floor, same run:
``python bench/evaluation_registry.py [--members 20000] [--batch 2000]``.

Uses MONGODB_URI when set; otherwise starts the store with `alliance_localinfra.local_infra()`.
Applies `--members` member registrations (then a status change for a tenth of them, and every
registration again, as a redelivery would) to evaluation's `members` projection three ways, each on
a fresh collection with the service's indexes:

- the service's path: `Projections.apply_registry`, one ordered bulk write per `--batch` events
  (what the consumer does per poll);
- one guarded `update_one` upsert per event (the path before it);
- the floor: `insert_many` of the same final documents, 1,000 a batch.

Prints events/s, store commands and CPU per event (this process, FerretDB, PostgreSQL), and the
ratios against the floor."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import cpu
from alliance_evaluation.adapters.projections import INDEXES, Projections, RegistryWrite
from alliance_evaluation.domain.roll import RollChange
from alliance_localinfra import local_infra
from alliance_shared.mongo import ensure_indexes, is_duplicate_key
from pymongo import AsyncMongoClient, monitoring

Doc = dict[str, Any]


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.sent = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

    def failed(self, event: monitoring.CommandFailedEvent) -> None: ...


def writes(members: int) -> list[RegistryWrite]:
    """Registrations, a status change for every tenth member, then every registration redelivered."""
    def registered(i: int) -> RegistryWrite:
        change = RollChange(f"reg-{i}", date(2024, 1 + i % 12, 1), "registered", f"o{i // 4}", "full", False)
        return Projections.roll_change(f"m{i:06d}", change, [f"i{i // 40}"])

    out = [registered(i) for i in range(members)]
    out += [Projections.roll_change(f"m{i:06d}", RollChange(f"st-{i}", date(2025, 3, 1), "status", f"o{i // 4}",
                                                            "probationary", False), [f"i{i // 40}"])
            for i in range(0, members, 10)]
    return out + [registered(i) for i in range(members)]


async def timed(what: str, commands: Commands, run: Callable[[], Awaitable[None]], events: int) -> dict[str, float]:
    sent = commands.sent
    t0 = time.perf_counter()
    with cpu.spent() as used:
        await run()
    wall = time.perf_counter() - t0
    store = used["ferretdb"] + used["postgresql"]
    row = {"wall": wall, "rate": events / wall, "commands": (commands.sent - sent) / events,
           "python_us": used["python"] / events * 1e6, "store_us": store / events * 1e6}
    # the store's CPU is read only from a store this process started (MONGODB_URI unset)
    store_text = "n/a (MONGODB_URI)" if os.environ.get("MONGODB_URI") else f"{row['store_us']:5.0f} µs"
    print(f"  {what:46s} {wall:7.1f} s  {row['rate']:8,.0f} events/s  {row['commands']:6.3f} commands/event  "
          f"CPU/event: python {row['python_us']:5.0f} µs, store {store_text}")
    return row


async def main(members: int, batch: int, uri: str) -> None:
    commands = Commands()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(uri, event_listeners=[commands])
    events = writes(members)
    dbs = []

    async def fresh() -> Any:
        db = client[f"bench_evreg_{uuid.uuid4().hex[:8]}"]
        dbs.append(db.name)
        await ensure_indexes(db, [s for s in INDEXES if s.collection == "members"])
        return db

    print(f"evaluation's member projection: {len(events):,} events ({members:,} members, a tenth changed, "
          f"all redelivered)")
    try:
        db = await fresh()
        projections = Projections(db)

        async def service() -> None:
            for k in range(0, len(events), batch):
                await projections.apply_registry(events[k:k + batch])

        ours = await timed(f"apply_registry, a bulk write per {batch:,}", commands, service, len(events))
        final = await db.members.find({}).to_list(None)

        db_one = await fresh()

        async def one_by_one() -> None:
            for w in events:
                try:
                    await db_one[w.collection].update_one(w.query, w.update, upsert=True)
                except Exception as exc:  # a redelivery's collision: applied already
                    if not is_duplicate_key(exc):
                        raise

        before = await timed("update_one per event (before)", commands, one_by_one, len(events))
        assert sorted(map(str, final)) == sorted(map(str, await db_one.members.find({}).to_list(None)))

        db_floor = await fresh()

        async def floor() -> None:
            for k in range(0, len(final), 1000):
                await db_floor.members.insert_many(final[k:k + 1000])

        raw = await timed("insert_many of the final documents (floor)", commands, floor, len(events))
        print(f"  ratio to the floor (events/s): service {ours['rate'] / raw['rate']:.2f}, "
              f"before {before['rate'] / raw['rate']:.2f}; service ÷ before {ours['rate'] / before['rate']:.1f}×")
    finally:
        for name in dbs:
            await client.drop_database(name)
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2_000, help="events per bulk write (the consumer's poll)")
    args = parser.parse_args()
    if os.environ.get("MONGODB_URI"):
        asyncio.run(main(args.members, args.batch, os.environ["MONGODB_URI"]))
    else:
        with local_infra(kafka=False, store=True) as infra:
            asyncio.run(main(args.members, args.batch, infra.mongodb_uri))
