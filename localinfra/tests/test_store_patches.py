"""The store build's patches (`localinfra/ferretdb/patches/`), each checked on the running store.

PostgreSQL's plan for a query comes back in FerretDB's `explain`: each test names the plan a patch
makes possible, so it fails on a build without that patch (a sequential scan instead), and checks
that the pushed-down filter still answers exactly what MongoDB would.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from alliance_localinfra import Infra, postgres
from alliance_localinfra import ferretdb as store_build
from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient, MongoClient, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
N = 3000


@pytest_asyncio.fixture
async def members(infra: Infra) -> AsyncIterator[AsyncCollection[Doc]]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(infra.mongodb_uri)
    col = client[f"patches_{uuid.uuid4().hex[:8]}"]["members"]
    await col.insert_many(
        [
            {
                "_id": f"m{i:05d}",
                "organization_id": f"o{i % 300}",
                "institution_id": f"i{i % 30}",
                "status": "full" if i % 2 else "probationary",
                "tags": ["all", f"t{i % 7}"],
                "ref": ObjectId(f"{i:024x}"),
            }
            for i in range(N)
        ]
    )
    await col.create_index([("organization_id", ASCENDING)])
    await col.create_index([("institution_id", ASCENDING), ("status", ASCENDING)])
    await col.create_index([("tags", ASCENDING)])
    await col.create_index([("ref", ASCENDING)], unique=True)
    try:
        yield col
    finally:
        await client.drop_database(col.database.name)
        await client.close()


def _nodes(plan: Doc) -> list[Doc]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


async def _plan(col: AsyncCollection[Doc], query: Doc) -> list[Doc]:
    answer = await col.database.command("explain", {"find": col.name, "filter": query}, verbosity="queryPlanner")
    return _nodes(answer["queryPlanner"]["Plan"])


def _uses_index(nodes: list[Doc]) -> set[str]:
    return {n["Index Name"] for n in nodes if n["Node Type"] in ("Index Scan", "Bitmap Index Scan")}


async def _ids(col: AsyncCollection[Doc], query: Doc) -> list[str]:
    return sorted([d["_id"] async for d in col.find(query, {"_id": 1})])


# 01-pushdown-id-index-and-in.patch


@pytest.mark.asyncio
async def test_id_equality_is_served_by_the_id_index(members: AsyncCollection[Doc]) -> None:
    nodes = await _plan(members, {"_id": "m02999"})
    assert any(name.endswith("_id__67399184_idx") for name in _uses_index(nodes)), nodes
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
    assert await _ids(members, {"_id": "m02999"}) == ["m02999"]
    assert await _ids(members, {"_id": {"$eq": "m00007"}}) == ["m00007"]


@pytest.mark.asyncio
async def test_id_in_is_served_by_the_id_index_and_answers_like_mongodb(members: AsyncCollection[Doc]) -> None:
    wanted = [f"m{i:05d}" for i in range(0, N, 97)] + ["missing"]
    nodes = await _plan(members, {"_id": {"$in": wanted}})
    assert _uses_index(nodes) and not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
    assert await _ids(members, {"_id": {"$in": wanted}}) == sorted(wanted[:-1])


@pytest.mark.asyncio
async def test_id_in_over_large_documents_uses_the_id_index_not_a_scan(infra: Infra) -> None:
    """Documents stored out of line (past ~2 kB, as score cards are) leave the heap a few pages, so
    a scan looked cheaper than 300 index probes to a planner that counted `->` as one operator; it
    decompresses every document. localinfra's PostgreSQL prices `->` at its real cost
    (postgres.CATALOG_TUNING): the `_id` index serves the list, a filter matching all still scans."""
    client: AsyncMongoClient[Doc] = AsyncMongoClient(infra.mongodb_uri)
    col = client[f"patches_{uuid.uuid4().hex[:8]}"]["cards"]
    try:
        rng = random.Random(3)
        letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        for start in range(0, 5000, 500):
            await col.insert_many([{"_id": f"2026-Q3|branch|o{i:05d}", "period": "2026-Q3",
                                    "items": ["".join(rng.choice(letters) for _ in range(300)) for _ in range(10)]}
                                   for i in range(start, start + 500)])
        wanted = [f"2026-Q3|branch|o{i:05d}" for i in range(0, 5000, 17)]  # 295 of 5,000
        nodes = await _plan(col, {"_id": {"$in": wanted}})
        assert _uses_index(nodes) and "Seq Scan" not in {n["Node Type"] for n in nodes}, nodes
        assert sorted([d["_id"] async for d in col.find({"_id": {"$in": wanted}}, {"_id": 1})]) == wanted
        assert "Seq Scan" in {n["Node Type"] for n in await _plan(col, {"period": "2026-Q3"})}
    finally:
        await client.drop_database(col.database.name)
        await client.close()


@pytest.mark.asyncio
async def test_in_on_an_indexed_field_uses_its_index_and_matches_array_elements(
    members: AsyncCollection[Doc],
) -> None:
    nodes = await _plan(members, {"organization_id": {"$in": ["o1", "o2"]}})
    assert len(_uses_index(nodes)) == 1 and not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
    assert await _ids(members, {"organization_id": {"$in": ["o1", "o2"]}}) == sorted(
        f"m{i:05d}" for i in range(N) if i % 300 in (1, 2)
    )
    # an array field matches when it holds one of the values, as on MongoDB
    assert len(await _ids(members, {"tags": {"$in": ["t3", "nothing"]}})) == len([i for i in range(N) if i % 7 == 3])
    refs = [ObjectId(f"{i:024x}") for i in (5, 6)]
    assert await _ids(members, {"ref": {"$in": refs}}) == ["m00005", "m00006"]


@pytest.mark.asyncio
async def test_in_with_values_that_cannot_be_pushed_down_still_answers(members: AsyncCollection[Doc]) -> None:
    # numbers and nulls are not pushed down: the handler filters every document, as before the patch
    assert await _ids(members, {"_id": {"$in": ["m00001", 5, None]}}) == ["m00001"]
    assert await _ids(members, {"organization_id": {"$in": []}}) == []


# 02-gin-indexes-serve-equality.patch


@pytest.mark.asyncio
async def test_equality_on_indexed_fields_is_served_by_their_indexes(members: AsyncCollection[Doc]) -> None:
    for query in (
        {"organization_id": "o5"},
        {"institution_id": "i3", "status": "full"},  # a compound index
        {"institution_id": "i3"},  # its first key alone
        {"status": "full", "institution_id": "i3", "_id": {"$ne": "x"}},
        {"ref": ObjectId(f"{7:024x}")},  # a unique index, through its GIN companion
    ):
        nodes = await _plan(members, query)
        assert _uses_index(nodes) and not [n for n in nodes if n["Node Type"] == "Seq Scan"], (query, nodes)
    assert await _ids(members, {"institution_id": "i3", "status": "full"}) == sorted(
        f"m{i:05d}" for i in range(N) if i % 30 == 3 and i % 2
    )


@pytest.mark.asyncio
async def test_dropping_an_index_drops_what_served_it(members: AsyncCollection[Doc]) -> None:
    await members.drop_index("ref_1")
    nodes = await _plan(members, {"ref": ObjectId(f"{7:024x}")})
    assert not _uses_index(nodes), nodes
    await members.create_index([("ref", ASCENDING)], unique=True)  # the same names can be created again
    assert _uses_index(await _plan(members, {"ref": ObjectId(f"{7:024x}")}))


# 04-update-releases-each-query.patch


@pytest.mark.asyncio
async def test_an_update_command_of_more_updates_than_the_pool_has_connections_completes() -> None:
    # its own store: without the patch this deadlocks FerretDB's connection pool for good
    own = store_build.start()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(own.mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        col = client.patches.outbox
        await col.insert_many([{"_id": f"e{i}", "pending": True, "n": 0} for i in range(300)])
        updates = [UpdateOne({"_id": f"e{i}", "pending": True}, {"$set": {"pending": False}}) for i in range(300)]
        result = await asyncio.wait_for(col.bulk_write(updates, ordered=False), timeout=120)
        assert result.modified_count == 300
        assert await asyncio.wait_for(col.count_documents({"pending": True}), timeout=30) == 0
    finally:
        await client.close()
        own.stop()


# 06-limit-with-exact-filter.patch


@pytest.mark.asyncio
async def test_a_limit_goes_down_with_a_boolean_filter(members: AsyncCollection[Doc]) -> None:
    await members.update_many({"institution_id": {"$in": ["i1", "i2"]}}, {"$set": {"pending": True}})
    await members.update_one({"_id": "m00003"}, {"$set": {"pending": [False, True]}})  # matches, as on MongoDB
    answer = await members.database.command(
        "explain", {"find": members.name, "filter": {"pending": True}, "limit": 5}, verbosity="queryPlanner"
    )
    assert answer["queryPlanner"]["Plan"]["Node Type"] == "Limit", answer["queryPlanner"]
    assert len(await members.find({"pending": True}).limit(5).to_list(None)) == 5
    assert await members.count_documents({"pending": True}) == 2 * N // 30 + 1
    # a string goes down exactly too (10-count-without-documents.patch) …
    plain = await members.database.command(
        "explain", {"find": members.name, "filter": {"status": "full"}, "limit": 5}, verbosity="queryPlanner"
    )
    assert plain["queryPlanner"]["Plan"]["Node Type"] == "Limit", plain["queryPlanner"]
    # … but not one of 24 hex digits: an ObjectId and its hex are one JSON string
    hexed = await members.database.command(
        "explain", {"find": members.name, "filter": {"status": "0" * 24}, "limit": 5}, verbosity="queryPlanner"
    )
    assert hexed["queryPlanner"]["Plan"]["Node Type"] != "Limit"


# 03-resource-tracking-in-debug-builds-only.patch


def _go_test(name: str, package: str) -> None:
    """Run a Go test that a patch added, in the patched source the store was built from."""
    go = shutil.which("go")
    assert go is not None, "Go builds the store; it must be on PATH"
    store_build.build()
    source = store_build.ferretdb_home() / "src" / "FerretDB"
    (source / ".git").mkdir(exist_ok=True)  # FerretDB's testutil finds the source's root by its .git
    env = dict(os.environ, GOFLAGS="-mod=mod", GOTOOLCHAIN="local", GOTELEMETRY="off", CGO_ENABLED="0")
    proc = subprocess.run(
        [go, "test", "-count=1", "-run", name, package], cwd=source, env=env, capture_output=True, text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok" in proc.stdout and "no tests to run" not in proc.stdout, proc.stdout


@pytest.mark.slow
def test_release_build_does_not_track_every_iterator() -> None:
    _go_test("TestReleaseBuildDoesNotTrack", "./internal/util/resource/")


@pytest.mark.slow
def test_only_exact_filters_take_a_limit_down() -> None:
    _go_test("TestExactPushdown", "./internal/handler/common/")


# 05-in-lookup-set.patch


@pytest.mark.slow
def test_a_long_in_list_is_looked_up_and_answers_like_the_comparison() -> None:
    _go_test("TestInSetMatchesLikeComparison", "./internal/handler/common/")


@pytest.mark.asyncio
async def test_a_long_in_list_with_other_filters_answers_like_mongodb(members: AsyncCollection[Doc]) -> None:
    wanted = [f"o{i}" for i in range(0, 300, 3)] + ["nowhere"]
    found = await _ids(members, {"organization_id": {"$in": wanted}, "status": "full"})
    assert found == sorted(f"m{i:05d}" for i in range(N) if i % 300 % 3 == 0 and i % 2)
    refs = [ObjectId(f"{i:024x}") for i in range(0, N, 10)]
    assert len(await _ids(members, {"ref": {"$in": refs}, "tags": "all"})) == len(refs)


# 07-long-in-list-looked-up.patch


def _filters(nodes: list[Doc]) -> str:
    return " ".join(str(n.get(k, "")) for n in nodes for k in ("Filter", "Recheck Cond", "Index Cond", "TID Cond"))


@pytest_asyncio.fixture
async def activities(members: AsyncCollection[Doc]) -> AsyncCollection[Doc]:
    """A table large enough for a lookup to pay: 20,000 rows over 1,000 members (20 a member)."""
    col = members.database["activities"]
    rows = 20_000
    await col.insert_many(
        [{"_id": i, "member_id": f"m{i % 1000}", "tags": ["all", f"t{i % 7}"], "ref": ObjectId(f"{i:024x}")}
         for i in range(rows)]
    )
    for key in ("member_id", "tags", "ref"):
        await col.create_index([(key, ASCENDING)])
    return col


@pytest.mark.asyncio
async def test_a_long_in_list_on_a_large_table_is_looked_up_value_by_value(activities: AsyncCollection[Doc]) -> None:
    wanted = [f"m{i}" for i in range(0, 300, 2)] + ["nowhere"]  # 151 values: past `@> ANY`'s 64
    nodes = await _plan(activities, {"member_id": {"$in": wanted}, "tags": "t3"})
    kinds = {n["Node Type"] for n in nodes}
    assert "Tid Scan" in kinds and "Function Scan" in kinds, nodes  # unnest the values, fetch rows by ctid
    assert _uses_index(nodes) and "@> ANY" not in _filters(nodes), nodes  # no row-by-row recheck of all
    assert sorted([d["_id"] async for d in activities.find({"member_id": {"$in": wanted}, "tags": "t3"}, {"_id": 1})
                   ]) == [i for i in range(20_000) if i % 1000 < 300 and i % 1000 % 2 == 0 and i % 7 == 3]
    # an array field matches when one of its elements is in the list, an ObjectId by its value
    tags = ["t3", "t5"] + [f"x{i}" for i in range(100)]
    assert "Tid Scan" in {n["Node Type"] for n in await _plan(activities, {"tags": {"$in": tags}})}
    assert await activities.count_documents({"tags": {"$in": tags}}) == len(
        [i for i in range(20_000) if i % 7 in (3, 5)])
    refs = [ObjectId(f"{i:024x}") for i in range(0, 200, 2)]
    assert sorted([d["_id"] async for d in activities.find({"ref": {"$in": refs}}, {"_id": 1})]) == list(
        range(0, 200, 2))
    # 1,000 values over 20,000 rows (20 a value, under the 32 a lookup needs): hashed, one probe a row
    many = [f"m{i}" for i in range(1000)]
    hashed = await _plan(activities, {"member_id": {"$in": many}})
    assert "Tid Scan" not in {n["Node Type"] for n in hashed} and "= ANY" in _filters(hashed), hashed
    assert await activities.count_documents({"member_id": {"$in": many[::2]}}) == 10_000


@pytest.mark.asyncio
async def test_a_table_analysed_while_empty_is_measured_again_once_it_has_grown(infra: Infra) -> None:
    """The first long `$in` on a new, empty collection analyses it (0 rows, 0 pages); once it has
    grown, its size is read again, not taken as 0 until autovacuum comes (the roster import's id
    check was hashed over every member while the members grew to 100,000)."""
    client: AsyncMongoClient[Doc] = AsyncMongoClient(infra.mongodb_uri)
    col = client[f"patches_{uuid.uuid4().hex[:8]}"]["members"]
    try:
        await col.insert_one({"_id": "seed", "id_lookup": "seed"})
        await col.create_index([("id_lookup", ASCENDING)])
        await col.delete_one({"_id": "seed"})
        wanted = [f"k{i}" for i in range(100)]
        assert await col.count_documents({"id_lookup": {"$in": wanted}}) == 0  # analysed: empty
        await col.insert_many([{"_id": i, "id_lookup": f"k{i}"} for i in range(20_000)])
        nodes = await _plan(col, {"id_lookup": {"$in": wanted}})  # 20,000 rows, 200 a value
        assert "Tid Scan" in {n["Node Type"] for n in nodes}, nodes
        assert await col.count_documents({"id_lookup": {"$in": wanted}}) == 100
    finally:
        await client.drop_database(col.database.name)
        await client.close()


@pytest.mark.asyncio
async def test_a_long_in_list_on_a_small_table_is_hashed(members: AsyncCollection[Doc]) -> None:
    orgs = [f"o{i}" for i in range(0, 300, 2)] + ["nowhere"]  # 151 values over 3,000 rows: 20 a value
    nodes = await _plan(members, {"organization_id": {"$in": orgs}, "status": "full"})
    assert "Tid Scan" not in {n["Node Type"] for n in nodes} and "= ANY" in _filters(nodes), nodes
    assert await _ids(members, {"organization_id": {"$in": orgs}, "status": "full"}) == sorted(
        f"m{i:05d}" for i in range(N) if i % 300 % 2 == 0 and i % 2
    )
    tags = ["t3", "t5"] + [f"x{i}" for i in range(100)]
    assert len(await _ids(members, {"tags": {"$in": tags}})) == len([i for i in range(N) if i % 7 in (3, 5)])
    refs = [ObjectId(f"{i:024x}") for i in range(0, 200, 2)]
    assert await _ids(members, {"ref": {"$in": refs}}) == [f"m{i:05d}" for i in range(0, 200, 2)]
    # a short list keeps `@> ANY` on the index
    short = await _plan(members, {"organization_id": {"$in": orgs[:10]}})
    assert _uses_index(short) and "@> ANY" in _filters(short), short


@pytest.mark.asyncio
async def test_a_long_in_list_on_a_key_without_index_is_hashed(members: AsyncCollection[Doc]) -> None:
    codes_col = members.database["codes"]  # no index but `_id`
    await codes_col.insert_many([{"_id": i, "code": f"c{i % 300}", "tags": [f"t{i % 7}"]} for i in range(N)])
    codes = [f"c{i}" for i in range(0, 300, 3)]
    nodes = await _plan(codes_col, {"code": {"$in": codes}})
    assert "= ANY" in _filters(nodes) and "@> ANY" not in _filters(nodes), nodes
    assert any(n.get("Function Name") == "jsonb_array_elements" for n in nodes), nodes  # array elements
    found = [d["_id"] async for d in codes_col.find({"code": {"$in": codes}}, {"_id": 1})]
    assert sorted(found) == [i for i in range(N) if i % 300 % 3 == 0]
    tags = ["t2"] + [f"x{i}" for i in range(100)]
    assert await codes_col.count_documents({"tags": {"$in": tags}}) == len([i for i in range(N) if i % 7 == 2])


# 08-gin-without-pending-list.patch


@pytest.mark.slow
def test_gin_indexes_have_no_pending_list() -> None:
    """PostgreSQL's catalogue says how FerretDB created the indexes (a store of its own, whose
    PostgreSQL this test may query)."""
    store = store_build.start()
    try:
        client: MongoClient[Doc] = MongoClient(store.mongodb_uri)
        col = client.patches.members
        col.insert_one({"_id": "m1", "status": "full", "ref": ObjectId()})
        col.create_index([("status", ASCENDING), ("organization_id", ASCENDING)])
        col.create_index([("ref", ASCENDING)], unique=True)  # its GIN companion too
        client.close()
        sql = (
            "SELECT c.relname || ' ' || coalesce(array_to_string(c.reloptions, ','), '-') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam "
            "WHERE a.amname = 'gin' AND n.nspname = 'patches'"
        )
        psql = [str(postgres.bin_dir() / "psql"), "-At", "-h", store.postgres.host, "-p", str(store.postgres.port),
                "-U", postgres.SUPERUSER, "-d", postgres.DATABASE, "-c", sql]
        rows = subprocess.run(psql, capture_output=True, text=True, check=True, timeout=60).stdout.split()
        psql[-1] = "SHOW plan_cache_mode"  # FerretDB's `_jsonb->$1` keys need a plan per execution
        plans = subprocess.run(psql, capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    finally:
        store.stop()
    options = dict(zip(rows[::2], rows[1::2], strict=True))
    assert len(options) == 2 and set(options.values()) == {"fastupdate=off"}, options
    assert plans == "force_custom_plan"


# 09-dotted-equality-pushdown.patch


@pytest.mark.asyncio
async def test_dotted_equality_goes_down_and_walks_arrays_like_mongodb(members: AsyncCollection[Doc]) -> None:
    col = members.database["transfers"]
    await col.insert_many(
        [
            {"_id": "a", "transfer": {"status": "pending", "notified": False}},
            {"_id": "b", "transfer": {"status": "done", "notified": False}},
            {"_id": "c", "transfer": [{"status": "done"}, {"status": "pending", "notified": True}]},
            {"_id": "d", "transfer": {"status": ["pending", "x"], "notified": False}},
            {"_id": "e", "transfer": None},
            {"_id": "f", "other": {"status": "pending"}},
        ]
    )
    query = {"transfer.status": "pending", "transfer.notified": False}
    nodes = await _plan(col, query)
    assert "jsonb_path_exists" in _filters(nodes), nodes
    assert sorted([d["_id"] async for d in col.find(query)]) == ["a", "d"]
    assert sorted([d["_id"] async for d in col.find({"transfer.status": {"$eq": "pending"}})]) == ["a", "c", "d"]
    assert await col.count_documents({"transfer.status": "pending"}) == 3
    # an update through an array on the path finds its document (the old `#>` form missed it)
    changed = await col.update_one({"_id": "c", "transfer.status": "pending"}, {"$set": {"seen": True}})
    assert changed.matched_count == 1
    # other dot-notation filters still answer, filtered after the query
    assert sorted([d["_id"] async for d in col.find({"transfer.status": {"$in": ["done"]}})]) == ["b", "c"]


# 10-count-without-documents.patch


def test_a_count_reads_no_document_when_its_filter_goes_down_exactly() -> None:
    """Counts answer like MongoDB; and with an exact filter they read no document: this test breaks
    the stored form of every document (FerretDB can no longer decode one) and counts still answer."""
    store = store_build.start()
    try:
        client: MongoClient[Doc] = MongoClient(store.mongodb_uri)
        col = client.patches.submissions
        col.insert_many([{"_id": f"s{i:04d}", "institution_id": f"i{i % 7}", "tags": ["all", f"t{i % 5}"],
                          "status": "accepted" if i % 3 else "rejected", "n": i % 4} for i in range(2100)])
        col.insert_one({"_id": "odd", "institution_id": ["i1", "i2"], "status": "0" * 24, "tags": "all", "n": 1})
        col.create_index([("institution_id", ASCENDING), ("status", ASCENDING)])
        col.create_index([("tags", ASCENDING)])

        def counted() -> dict[str, int]:
            many = [f"i{k}" for k in range(3)] + [f"x{k}" for k in range(80)]  # a long $in, looked up
            return {
                "all": col.count_documents({}),
                "i1": col.count_documents({"institution_id": "i1"}),  # with the array holding "i1"
                "i1 rejected": col.count_documents({"institution_id": "i1", "status": "rejected"}),
                "$in": col.count_documents({"institution_id": {"$in": many}}),
                "tag": col.count_documents({"tags": "t2"}, skip=10, limit=100),
                "$count": next(col.aggregate([{"$match": {"tags": "all"}}, {"$count": "n"}]))["n"],
                "count cmd": int(client.patches.command("count", "submissions", query={"status": "accepted"})["n"]),
            }

        expected = {"all": 2101, "i1": 301, "i1 rejected": 100, "$in": 901, "tag": 100, "$count": 2101,
                    "count cmd": 1400}
        assert counted() == expected
        assert col.count_documents({"n": 1}) == 526  # a number is not exact: filtered after decoding
        assert col.count_documents({"status": "0" * 24}) == 1  # nor a string that could be an ObjectId

        find_table = ("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = 'patches' AND c.relkind = 'r' AND c.relname LIKE 'submissions%'")
        psql = [str(postgres.bin_dir() / "psql"), "-At", "-h", store.postgres.host, "-p", str(store.postgres.port),
                "-U", postgres.SUPERUSER, "-d", postgres.DATABASE, "-c", find_table]
        (table,) = subprocess.run(psql, capture_output=True, text=True, check=True, timeout=60).stdout.split()
        psql[-1] = f"UPDATE patches.{table} SET _jsonb = jsonb_set(_jsonb, '{{$s}}', '\"broken\"')"
        subprocess.run(psql, capture_output=True, text=True, check=True, timeout=60)
        with pytest.raises(Exception):  # noqa: B017 - the broken documents cannot be read any more
            col.find_one({"_id": "s0001"})
        assert counted() == expected
        client.close()
    finally:
        store.stop()


# 11-one-pass-documents.patch


@pytest.mark.slow
def test_the_one_pass_encoder_and_decoder_answer_like_the_value_by_value_ones() -> None:
    _go_test("TestFastUnmarshal", "./internal/handler/sjson/")


# 12-updates-written-together.patch


def test_an_update_of_many_documents_writes_them_together_and_keeps_mongodbs_order_on_error() -> None:
    """PostgreSQL counts the write transactions (each takes a transaction id): one per document
    before the patch, one per hundred after. And a unique violation midway keeps the documents
    before it updated, as MongoDB does."""
    store = store_build.start()
    try:
        client: MongoClient[Doc] = MongoClient(store.mongodb_uri)
        col = client.patches.outboxes
        col.insert_many([{"_id": f"d{k:03d}", "pending": True} for k in range(250)])
        psql = [str(postgres.bin_dir() / "psql"), "-At", "-h", store.postgres.host, "-p", str(store.postgres.port),
                "-U", postgres.SUPERUSER, "-d", postgres.DATABASE, "-c", "SELECT txid_current()"]

        def xid() -> int:
            return int(subprocess.run(psql, capture_output=True, text=True, check=True, timeout=60).stdout)

        before = xid()
        cleared = col.update_many({"pending": True}, {"$set": {"pending": False}})
        used = xid() - before - 1
        assert cleared.matched_count == cleared.modified_count == 250
        assert col.count_documents({"pending": False}) == 250
        assert used <= 5, f"{used} write transactions for one update of 250 documents"

        # on a fresh collection, whose rows PostgreSQL reads in the order they were inserted
        fresh = client.patches.fresh
        fresh.insert_many([{"_id": f"d{k:03d}", "grp": "a", "n": 2 * k} for k in range(250)])
        fresh.insert_one({"_id": "blocker", "grp": "b", "n": 2 * 129 + 1})
        fresh.create_index([("n", ASCENDING)], unique=True)
        with pytest.raises(Exception) as refused:  # a unique violation, whatever its code
            fresh.update_many({"grp": "a"}, {"$inc": {"n": 1}})
        assert "duplicate" in str(refused.value).lower() or "unique" in str(refused.value).lower(), refused.value
        bumped = sorted(d["n"] for d in fresh.find({"grp": "a", "n": {"$mod": [2, 1]}}))
        assert bumped == [2 * k + 1 for k in range(129)]  # the 129 documents before the 130th
        client.close()
    finally:
        store.stop()


# 13-sort-and-limit-pushdown.patch


@pytest.mark.asyncio
async def test_a_sorted_page_goes_down_with_its_limit_and_answers_like_the_whole_sort(infra: Infra) -> None:
    """With an exact filter, `find().sort().skip().limit()` takes PostgreSQL's top-N sort (a Limit
    over a Sort in the plan), and over values of every scalar type, missing ones and ties it answers
    what sorting every matching document answers."""
    from datetime import UTC, datetime, timedelta

    client: AsyncMongoClient[Doc] = AsyncMongoClient(infra.mongodb_uri)
    col = client[f"patches_{uuid.uuid4().hex[:8]}"]["lists"]
    start = datetime(2026, 10, 1, tzinfo=UTC)
    values: list[Any] = [start + timedelta(minutes=i) for i in range(40)]
    values += [i - 20 for i in range(30)] + [i / 4 for i in range(20)] + [f"s{i:02d}" for i in range(20)]
    values += ["", "z", "中文", None, True, False, ObjectId(f"{7:024x}"), ObjectId(f"{3:024x}"), 2**40]
    docs = []
    for i, v in enumerate(values * 3):  # ties: each value three times
        doc: Doc = {"_id": f"d{i:04d}", "kind": "a" if i % 3 else "b", "n": i % 5}
        if i % 17:
            doc["at"] = v  # some without the field
        docs.append(doc)
    await col.insert_many(docs)
    await col.create_index([("kind", ASCENDING), ("at", ASCENDING)])
    try:
        for query in ({}, {"kind": "a"}, {"kind": {"$in": ["a", "b"]}}):
            for order in ([("at", 1), ("_id", 1)], [("at", -1), ("_id", -1)], [("kind", 1), ("at", -1), ("_id", 1)]):
                whole = [d["_id"] async for d in col.find(query, {"_id": 1}).sort(order)]
                for skip, limit in ((0, 1), (0, 25), (30, 50), (len(whole) - 3, 10)):
                    page = [d["_id"] async for d in col.find(query, {"_id": 1}).sort(order).skip(skip).limit(limit)]
                    assert page == whole[skip : skip + limit], (query, order, skip, limit)
        explained = await col.database.command(
            "explain", {"find": col.name, "filter": {"kind": "a"}, "sort": {"at": -1, "_id": -1}, "limit": 20},
            verbosity="queryPlanner",
        )
        nodes = _nodes(explained["queryPlanner"]["Plan"])
        assert nodes[0]["Node Type"] == "Limit" and any(n["Node Type"] == "Sort" for n in nodes), nodes
        assert explained["sortPushdown"] and explained["limitPushdown"]
        # not exact (a number): sorted in memory, no limit sent down
        loose = await col.database.command(
            "explain", {"find": col.name, "filter": {"n": 1}, "sort": {"at": 1}, "limit": 5}, verbosity="queryPlanner"
        )
        assert not loose["limitPushdown"]
    finally:
        await client.drop_database(col.database.name)
        await client.close()


# 14-update-write-errors.patch


@pytest.mark.asyncio
async def test_a_bulk_of_updates_answers_each_statements_error_at_its_index(members: AsyncCollection[Doc]) -> None:
    """A guarded upsert whose event is applied already collides with the stored `_id`: MongoDB
    answers a write error at that statement's index, with the counts of the others; an ordered
    bulk stops there, an unordered one goes on."""
    col = members.database["upserts"]
    await col.insert_one({"_id": "seen", "events": ["e1"]})

    def push(doc_id: str, event: str) -> UpdateOne:
        return UpdateOne({"_id": doc_id, "events": {"$ne": event}}, {"$push": {"events": event}}, upsert=True)

    with pytest.raises(BulkWriteError) as stopped:
        await col.bulk_write([push("new1", "e1"), push("seen", "e1"), push("seen", "e2")], ordered=True)
    answer = stopped.value.details
    assert [(e["index"], e["code"]) for e in answer["writeErrors"]] == [(1, 11000)]
    assert answer["upserted"] == [{"index": 0, "_id": "new1"}]
    assert await col.find_one({"_id": "seen"}) == {"_id": "seen", "events": ["e1"]}  # stopped before e2

    with pytest.raises(BulkWriteError) as went_on:
        await col.bulk_write([push("seen", "e1"), push("seen", "e2"), push("new2", "e2")], ordered=False)
    answer = went_on.value.details
    assert [(e["index"], e["code"]) for e in answer["writeErrors"]] == [(0, 11000)]
    assert answer["nModified"] == 1
    assert answer["upserted"] == [{"index": 2, "_id": "new2"}]
    assert (await col.find_one({"_id": "seen"}) or {})["events"] == ["e1", "e2"]

    unique = members.database["unique_numbers"]
    await unique.insert_many([{"_id": "a", "n": 1}, {"_id": "b", "n": 2}])
    await unique.create_index([("n", ASCENDING)], unique=True)
    with pytest.raises(DuplicateKeyError):  # code 11000, as MongoDB (not code 1)
        await unique.update_one({"_id": "b"}, {"$set": {"n": 1}})
    assert await unique.find_one({"_id": "b"}) == {"_id": "b", "n": 2}
