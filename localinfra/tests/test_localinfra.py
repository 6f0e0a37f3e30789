"""Integration tests: a real Kafka 4.x broker and FerretDB on PostgreSQL, driven with aiokafka and PyMongo."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from alliance_localinfra import Infra, create_topics
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.integration


def _uid() -> str:
    return uuid.uuid4().hex[:10]


async def _drain(consumer: AIOKafkaConsumer, want: int, within: float = 30.0) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + within
    while len(got) < want and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=500)
        for msgs in batch.values():
            got.extend(m.value for m in msgs if m.value is not None)
    return got


@pytest.mark.asyncio
async def test_kafka_produce_consume_commit_rebalance(infra: Infra) -> None:
    bs = infra.kafka_bootstrap_servers
    assert os.environ["KAFKA_BOOTSTRAP_SERVERS"] == bs
    topic, group = f"t-{_uid()}", f"g-{_uid()}"
    create_topics(bs, [topic], partitions=3)

    producer = AIOKafkaProducer(bootstrap_servers=bs, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for i in range(30):
            await producer.send_and_wait(topic, f"m{i}".encode(), key=str(i).encode())
    finally:
        await producer.stop()

    c1 = AIOKafkaConsumer(
        topic, bootstrap_servers=bs, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await c1.start()
    c2: AIOKafkaConsumer | None = None
    try:
        got = await _drain(c1, 30)
        assert sorted(got) == sorted(f"m{i}".encode() for i in range(30))
        await c1.commit()
        assert {tp.partition for tp in c1.assignment()} == {0, 1, 2}

        # a second member joins: the group rebalances and splits the 3 partitions
        c2 = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bs,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await c2.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await asyncio.gather(c1.getmany(timeout_ms=200), c2.getmany(timeout_ms=200))
            a1, a2 = c1.assignment(), c2.assignment()
            if a1 and a2 and len(a1) + len(a2) == 3:
                break
        assert c1.assignment() and c2.assignment()
        assert {tp.partition for tp in c1.assignment() | c2.assignment()} == {0, 1, 2}
    finally:
        if c2 is not None:
            await c2.stop()
        await c1.stop()

    # the committed offsets survive the members: read them back with a fresh client
    reader = AIOKafkaConsumer(bootstrap_servers=bs, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        committed = [await reader.committed(TopicPartition(topic, p)) for p in range(3)]
    finally:
        await reader.stop()
    assert all(c is not None for c in committed)
    assert sum(c or 0 for c in committed) == 30


@pytest.mark.asyncio
async def test_ferretdb_insert_find_and_unique_index(infra: Infra) -> None:
    assert os.environ["MONGODB_URI"] == infra.mongodb_uri
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_uri, serverSelectionTimeoutMS=10000)
    try:
        db = client[f"db_{_uid()}"]
        assert (await client.admin.command("ping"))["ok"] == 1.0
        coll = db["things"]
        await coll.insert_one({"key": "a", "n": 1})
        await coll.insert_many([{"key": "b", "n": 2}, {"key": "c", "n": 3}])
        doc = await coll.find_one({"key": "b"}, {"_id": 0})
        assert doc == {"key": "b", "n": 2}
        assert [d["key"] async for d in coll.find({"n": {"$gte": 2}}).sort("n", -1)] == ["c", "b"]

        await coll.create_index("key", unique=True)
        with pytest.raises(DuplicateKeyError):
            await coll.insert_one({"key": "a", "n": 99})
        assert await coll.count_documents({}) == 3
        await client.drop_database(db.name)
    finally:
        await client.close()


def test_create_topics_is_idempotent(infra: Infra) -> None:
    name = f"idem-{_uid()}"
    create_topics(infra.kafka_bootstrap_servers, [name, name], partitions=2)
    create_topics(infra.kafka_bootstrap_servers, [name], partitions=2)


# --- no orphans -------------------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, str, str]]:
    """pid -> (ppid, state, comm) from /proc (no psutil)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), fields[0], comm)
    return table


def _descendants(root: int) -> set[int]:
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _state, _comm) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] not in ("Z", "X")  # a zombie is dead, only unreaped


@pytest.mark.slow
def test_exec_leaves_no_processes_after_sigkill(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI")}
    ready = tmp_path / "ready"
    script = (
        "import os, pathlib, time; "
        f"pathlib.Path({str(ready)!r}).write_text("
        "os.environ['KAFKA_BOOTSTRAP_SERVERS'] + ' ' + os.environ['MONGODB_URI']); "
        "time.sleep(600)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-m", "alliance_localinfra", "-q", "exec", "--", sys.executable, "-c", script],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180
        while not ready.exists():
            assert parent.poll() is None, parent.stderr.read().decode() if parent.stderr else ""
            assert time.monotonic() < deadline, "exec never ran its command"
            time.sleep(0.1)
        kids = _descendants(parent.pid)
        names = {_proc_table().get(pid, (0, "", ""))[2] for pid in kids}
        assert {"java", "ferretdb", "postgres"} <= names, names
        assert len(kids) >= 4  # java, ferretdb, postgres (and its workers), the command

        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(pid) for pid in kids):
            time.sleep(0.1)
        survivors = {pid: _proc_table().get(pid) for pid in kids if _alive(pid)}
        assert not survivors, f"orphans left behind: {survivors}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stderr:
            parent.stderr.close()


def test_store_statements_are_counted_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """ALLIANCE_STORE_STATS=1: the cluster loads pg_stat_statements and `statements()` names what ran
    (without it, nothing is loaded and the list is empty)."""
    from alliance_localinfra import postgres

    monkeypatch.setenv(postgres.ENV_STATS, "1")
    pg = postgres.start()
    try:
        pg.psql("CREATE TABLE counted (n int); INSERT INTO counted SELECT generate_series(1, 1000)")
        for _ in range(3):
            assert pg.psql("SELECT count(*) FROM counted WHERE n > 10").strip() == "990"
        busiest = pg.statements(50)
        counted = [s for s in busiest if "FROM counted WHERE" in s["query"]]
        assert counted and counted[0]["calls"] == 3 and counted[0]["rows"] == 3, busiest
        monkeypatch.delenv(postgres.ENV_STATS)
        assert pg.statements() == []
    finally:
        pg.stop()


def test_large_documents_are_compressed_with_lz4_and_a_setting_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored document over ~2 kB is compressed with LZ4 (cheaper to write and read than the
    default pglz); ALLIANCE_PG_SETTINGS overrides a server setting for an experiment."""
    from alliance_localinfra import postgres

    pg = postgres.start()
    try:
        pg.psql("CREATE TABLE docs (j jsonb); INSERT INTO docs SELECT jsonb_build_object('t', repeat('党建', 2000))")
        assert pg.psql("SELECT pg_column_compression(j) FROM docs").strip() == "lz4"
    finally:
        pg.stop()
    monkeypatch.setenv(postgres.ENV_SETTINGS, "default_toast_compression=pglz work_mem=8MB")
    pg = postgres.start()
    try:
        assert pg.psql("SHOW default_toast_compression").strip() == "pglz"
        assert pg.psql("SHOW work_mem").strip() == "8MB"
    finally:
        pg.stop()


@pytest.mark.slow
def test_the_store_process_collects_garbage_seldom(monkeypatch: pytest.MonkeyPatch) -> None:
    """FerretDB runs with GOGC=800 and a 1 GiB soft memory limit (a relay-like clear: 30 % less of
    its CPU than at 200), unless the environment says otherwise."""
    from alliance_localinfra import ferretdb

    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.setenv("GOMEMLIMIT", "2GiB")
    store = ferretdb.start()
    try:
        with open(f"/proc/{store.process.pid}/environ", "rb") as f:
            env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
    finally:
        store.stop()
    assert env[b"GOGC"] == b"800"
    assert env[b"GOMEMLIMIT"] == b"2GiB"
